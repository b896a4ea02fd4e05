// Measured ceilings: the roofline every tuned kernel is reported against. Optimised even in Debug builds
// (the pragma) and not instrumented by ASan, since an unoptimised or instrumented loop would measure the
// build, not the machine.
#pragma GCC optimize("O3")
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "synaptix/hw/cpu_profile.h"

namespace synaptix::hw {
namespace {

using Clock = std::chrono::steady_clock;

#if defined(__AVX512F__)
// Horizontal sum through memory: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized at -O3.
inline float hsum(__m512 v) {
  alignas(64) float b[16];
  _mm512_store_ps(b, v);
  float s = 0;
  for (float x : b) s += x;
  return s;
}
#endif

__attribute__((no_sanitize_address)) float sum_range(const float* p, int64_t n) {
#if defined(__AVX512F__)
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
  }
  float s = hsum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#elif defined(__AVX2__)
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  __m256 t = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  float buf[8];
  _mm256_storeu_ps(buf, t);
  float s = 0;
  for (float v : buf) s += v;
#else
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  float s = s0 + s1 + s2 + s3;
#endif
  for (; i < n; ++i) s += p[i];
  return s;
}

// Runs fn(thread_index) on `threads` threads released together; returns the wall time of the slowest.
template <typename Fn>
double timed_parallel(int threads, Fn fn) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      fn(t);
    });
  while (ready.load() < threads) {
  }
  auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : ts) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

double measure_read_bandwidth(int threads, int64_t bytes, int repeats) {
  threads = std::max(1, threads);
  int64_t n = bytes / 4;
  n -= n % (64 * threads);
  std::unique_ptr<float, void (*)(void*)> buf(static_cast<float*>(std::aligned_alloc(64, n * 4)), std::free);
  float* p = buf.get();
  // First touch from the threads that will read it (NUMA placement), and pages really mapped.
  int64_t per = n / threads;
  timed_parallel(threads, [&](int t) { std::memset(p + t * per, 0, per * 4); });
  std::vector<float> sink(threads);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    double s = timed_parallel(threads, [&](int t) { sink[t] += sum_range(p + t * per, per); });
    best = std::max(best, static_cast<double>(n) * 4 / s / 1e9);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

double measure_fma_gflops(int threads, int repeats) {
  threads = std::max(1, threads);
  const int64_t iters = 20'000'000;
  std::vector<float> sink(threads);
  double best = 0;
#if defined(__AVX512F__)
  constexpr int kLanes = 16;
#elif defined(__FMA__)
  constexpr int kLanes = 8;
#else
  constexpr int kLanes = 1;
#endif
  constexpr int kChains = 10;  // independent accumulators hide the FMA latency (4 cycles x 2 ports)
  for (int r = 0; r < repeats; ++r) {
    double s = timed_parallel(threads, [&](int t) {
#if defined(__AVX512F__)
      __m512 acc[kChains];
      for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * (c + t));
      const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
      for (int64_t i = 0; i < iters / 10; ++i)
        for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
      float tot = 0;
      for (int c = 0; c < kChains; ++c) tot += hsum(acc[c]);
#elif defined(__FMA__)
      __m256 acc[kChains];
      for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(0.001f * (c + t));
      const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
      for (int64_t i = 0; i < iters / 10; ++i)
        for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
      float buf[8], tot = 0;
      for (int c = 0; c < kChains; ++c) {
        _mm256_storeu_ps(buf, acc[c]);
        for (float v : buf) tot += v;
      }
#else
      float acc[kChains];
      for (int c = 0; c < kChains; ++c) acc[c] = 0.001f * (c + t);
      for (int64_t i = 0; i < iters / 10; ++i)
        for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999999f + 1e-7f;
      float tot = 0;
      for (float v : acc) tot += v;
#endif
      sink[t] = tot;
    });
    double flops = 2.0 * kLanes * kChains * static_cast<double>(iters / 10) * threads;
    best = std::max(best, flops / s / 1e9);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

}  // namespace synaptix::hw
