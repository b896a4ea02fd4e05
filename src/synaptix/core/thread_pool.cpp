#include "synaptix/core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace synaptix {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

int default_spin_us() {
  const char* env = std::getenv("SYNAPTIX_SPIN_US");
  if (!env) return 1000;
  const int v = std::atoi(env);
  return std::clamp(v, 0, 1000000);
}

}  // namespace

ThreadPool::ThreadPool(int threads, int spin_us) : spin_us_(spin_us >= 0 ? spin_us : default_spin_us()) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  wake(worker_sleepers_, work_cv_);
  for (auto& t : workers_) t.join();
}

template <class Ready>
void ThreadPool::await(const Ready& ready, std::atomic<int>& sleepers, std::condition_variable& cv) {
  if (ready()) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us_);
  for (int i = 1;; ++i) {
    if (ready()) return;
    cpu_relax();
    if ((i & 255) == 0 && std::chrono::steady_clock::now() >= deadline) break;
  }
  // Announce the sleep before the last check: whoever makes ready() true afterwards sees sleepers > 0 and
  // notifies under the mutex, so the wake-up cannot be lost (both sides use sequentially consistent atomics).
  sleepers.fetch_add(1);
  {
    std::unique_lock<std::mutex> lk(mu_);
    cv.wait(lk, ready);
  }
  sleepers.fetch_sub(1);
}

void ThreadPool::wake(std::atomic<int>& sleepers, std::condition_variable& cv) {
  if (sleepers.load() == 0) return;
  { std::lock_guard<std::mutex> lk(mu_); }
  cv.notify_all();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    await([&] { return generation_.load() != seen; }, worker_sleepers_, work_cv_);
    seen = generation_.load();
    if (stop_.load()) return;
    if (index < chunks_) {
      const size_t begin = static_cast<size_t>(index) * chunk_;
      const size_t end = std::min(job_n_, begin + chunk_);
      if (begin < end) (*job_)(begin, end);
    }
    if (pending_.fetch_sub(1) == 1) wake(caller_sleeping_, done_cv_);
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn, size_t grain) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  size_t max_chunks = std::max<size_t>(1, n / grain);
  int chunks = static_cast<int>(std::min<size_t>(static_cast<size_t>(size()), max_chunks));
  if (chunks <= 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> run_lk(run_mu_);
  const size_t chunk = (n + static_cast<size_t>(chunks) - 1) / static_cast<size_t>(chunks);
  // Every worker acknowledges every generation (pending_ counts them all), so no worker reads these fields
  // while they are written here.
  job_ = &fn;
  job_n_ = n;
  chunk_ = chunk;
  chunks_ = chunks;
  pending_.store(static_cast<int>(workers_.size()));
  generation_.fetch_add(1);
  wake(worker_sleepers_, work_cv_);
  fn(0, std::min(n, chunk));
  await([&] { return pending_.load() == 0; }, caller_sleeping_, done_cv_);
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool([] {
    const char* env = std::getenv("SYNAPTIX_THREADS");
    return env ? std::atoi(env) : 0;
  }());
  return pool;
}

}  // namespace synaptix
