#pragma once
// A fixed pool of worker threads for data-parallel loops. parallel_for splits [0, n) into contiguous chunks,
// one per thread, and blocks until all are done; the calling thread takes a chunk itself, so a pool of
// N threads uses N cores.
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace synaptix {

class ThreadPool {
 public:
  explicit ThreadPool(int threads = 0);  // 0: hardware concurrency
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

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  size_t job_n_ = 0, chunk_ = 0;
  int chunks_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::mutex run_mu_;  // one parallel_for at a time
};

}  // namespace synaptix
