#pragma once
// A fixed pool of worker threads for data-parallel loops. parallel_for splits [0, n) into contiguous chunks,
// one per thread, and blocks until all are done; the calling thread takes a chunk itself, so a pool of
// N threads uses N cores.
//
// A decode step runs hundreds of short parallel loops (one per small GEMV), so the hand-off must cost
// microseconds, not a futex wake-up each: workers spin on the job counter for a while after each job
// (spin_us, default 1000 µs; SYNAPTIX_SPIN_US) and only then sleep on a condition variable, and the caller
// spins for its workers the same way.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace synaptix {

class ThreadPool {
 public:
  explicit ThreadPool(int threads = 0, int spin_us = -1);  // 0 threads: hardware concurrency; -1: default spin
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // fn(begin, end) over contiguous chunks; chunks are at least `grain` long.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn, size_t grain = 1);

  // The process-wide pool (sized by SYNAPTIX_THREADS or the hardware).
  static ThreadPool& global();

 private:
  void worker(int index);
  // Waits until `ready()` holds: spins for spin_us_, then sleeps on cv (woken by whoever makes it true and
  // sees `sleepers` non-zero).
  template <class Ready>
  void await(const Ready& ready, std::atomic<int>& sleepers, std::condition_variable& cv);
  void wake(std::atomic<int>& sleepers, std::condition_variable& cv);

  std::vector<std::thread> workers_;
  int spin_us_;
  // The current job; written by the caller only while every worker is between jobs (all acknowledged the
  // previous generation), read by workers after they observe the new generation.
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  size_t job_n_ = 0, chunk_ = 0;
  int chunks_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers that have not finished the current generation
  std::atomic<int> worker_sleepers_{0}, caller_sleeping_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::mutex run_mu_;  // one parallel_for at a time
};

}  // namespace synaptix
