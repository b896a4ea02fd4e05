#include "synaptix/core/thread_pool.h"

#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace synaptix {
namespace {

// Every index of [0, n) is visited exactly once, for many back-to-back jobs of varying sizes: the hand-off
// from one generation to the next must never lose, repeat or mix up a chunk.
TEST(ThreadPool, EveryIndexOnceAcrossManyBackToBackJobs) {
  ThreadPool pool(4, 200);
  std::vector<std::atomic<int>> hits(1000);
  for (int job = 0; job < 2000; ++job) {
    const size_t n = 1 + static_cast<size_t>(job * 37 % 1000);
    for (size_t i = 0; i < n; ++i) hits[i].store(0);
    pool.parallel_for(n, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "job " << job << " index " << i;
  }
}

// With no spinning, workers sleep between jobs: jobs still complete (no lost wake-up) after idle gaps.
TEST(ThreadPool, SleepingWorkersWakeForTheNextJob) {
  ThreadPool pool(3, 0);
  for (int job = 0; job < 50; ++job) {
    if (job % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<long> sum{0};
    pool.parallel_for(300, [&](size_t b, size_t e) {
      long s = 0;
      for (size_t i = b; i < e; ++i) s += static_cast<long>(i);
      sum.fetch_add(s);
    });
    ASSERT_EQ(sum.load(), 300L * 299 / 2) << "job " << job;
  }
}

// Chunks respect the grain: a job smaller than two grains runs as one chunk on the caller.
TEST(ThreadPool, GrainKeepsSmallJobsInOneChunk) {
  ThreadPool pool(4, 100);
  std::atomic<int> calls{0};
  pool.parallel_for(10, [&](size_t b, size_t e) {
    calls.fetch_add(1);
    EXPECT_EQ(b, 0u);
    EXPECT_EQ(e, 10u);
  }, 8);
  EXPECT_EQ(calls.load(), 1);
  std::atomic<int> chunks{0};
  pool.parallel_for(64, [&](size_t b, size_t e) {
    chunks.fetch_add(1);
    EXPECT_GE(e - b, 16u);
  }, 16);
  EXPECT_EQ(chunks.load(), 4);
}

// Concurrent callers are serialised, not interleaved.
TEST(ThreadPool, ConcurrentCallersEachGetTheirWholeJob) {
  ThreadPool pool(2, 100);
  std::vector<std::thread> callers;
  std::atomic<int> bad{0};
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&, c] {
      for (int job = 0; job < 200; ++job) {
        std::vector<int> v(100 + static_cast<size_t>(c), 0);
        pool.parallel_for(v.size(), [&](size_t b, size_t e) {
          for (size_t i = b; i < e; ++i) v[i] += 1;
        });
        if (std::accumulate(v.begin(), v.end(), 0) != static_cast<int>(v.size())) bad.fetch_add(1);
      }
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace synaptix
