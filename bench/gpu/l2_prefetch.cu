// L2 prefetch probe (Hopper): does pulling a weight matrix into L2 ahead of time make a later streaming read
// of it faster, and how long does the prefetch take to land? The decode step relies on it: every GEMV
// prefetches its rows while the previous kernel runs. Compares per-128-byte `prefetch.global.L2`, the bulk
// `cp.async.bulk.prefetch.L2` (one instruction per range), and 16-byte loads whose values are discarded,
// each followed after a gap by a timed streaming read of the same bytes (cold read for reference).
//   nvcc -O3 -arch=sm_90a -o /tmp/l2_prefetch bench/gpu/l2_prefetch.cu && /tmp/l2_prefetch
#include <cuda_runtime.h>

#include "probe_check.h"

#include <algorithm>
#include <cstdio>
#include <vector>

// Streaming read (as the GEMV reads weights): 16-byte loads past L1, summed so they are not dropped.
__global__ void stream_read(const uint4* __restrict__ w, long long n16, unsigned* sink) {
  unsigned acc = 0;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n16; i += (long long)gridDim.x * blockDim.x) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(w + i));
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) *sink = acc;
}

__global__ void prefetch_lines(const char* p, long long bytes) {
  for (long long off = (blockIdx.x * (long long)blockDim.x + threadIdx.x) * 128; off < bytes;
       off += (long long)gridDim.x * blockDim.x * 128)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p + off));
}

// One bulk prefetch per 64 KB chunk (the size operand is a multiple of 16, here well under its limit).
__global__ void prefetch_bulk(const char* p, long long bytes) {
  const long long chunk = 65536;
  for (long long off = (blockIdx.x * (long long)blockDim.x + threadIdx.x) * chunk; off < bytes;
       off += (long long)gridDim.x * blockDim.x * chunk) {
    const unsigned size = (unsigned)(bytes - off < chunk ? bytes - off : chunk);
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p + off), "r"(size) : "memory");
  }
}

__global__ void spin_ns(long long ns) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while ((long long)(t - t0) < ns);
}

// The GEMV's own pattern in one kernel: each block prefetches its slice, waits `gap_ns` (a stand-in for the
// PDL wait on the previous kernel), then streams the slice; block b records when its read started and ended
// (blocks start at different times, so only per-block durations compare).
__global__ void own_slice(const char* w, long long slice, int mode, long long gap_ns, unsigned long long* t,
                          unsigned* sink) {
  const char* base = w + blockIdx.x * slice;
  if (mode == 1)
    for (long long off = threadIdx.x * 128ll; off < slice; off += blockDim.x * 128ll)
      asm volatile("prefetch.global.L2 [%0];" ::"l"(base + off));
  if (mode == 2)
    for (long long off = threadIdx.x * 128ll; off < slice; off += blockDim.x * 128ll)
      asm volatile("prefetch.global.L2::evict_last [%0];" ::"l"(base + off));
  if (mode == 3 && threadIdx.x == 0)
    for (long long off = 0; off < slice; off += 65536)
      asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(base + off),
                   "r"((unsigned)(slice - off < 65536 ? slice - off : 65536)) : "memory");
  unsigned long long t0, t1;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
  } while ((long long)(t1 - t0) < gap_ns);
  __syncthreads();
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  const uint4* p = reinterpret_cast<const uint4*>(base);
  unsigned acc = 0;
  for (long long i = threadIdx.x; i < slice / 16; i += blockDim.x * 4) {
    uint4 v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u)
      if (i + u * blockDim.x < slice / 16)
        asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                     : "=r"(v[u].x), "=r"(v[u].y), "=r"(v[u].z), "=r"(v[u].w) : "l"(p + i + u * blockDim.x));
      else v[u] = make_uint4(0, 0, 0, 0);
#pragma unroll
    for (int u = 0; u < 4; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  __syncthreads();
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
  if (acc == 0x12345678u) *sink = acc;
  if (threadIdx.x == 0) { t[2 * blockIdx.x] = t0; t[2 * blockIdx.x + 1] = t1; }
}

int own_slice_probe(int sms, const char* flush, long long flush_bytes, char* w, unsigned* sink) {
  unsigned long long* t;
  CHECK(cudaMalloc(&t, sizeof(unsigned long long) * 2 * 8 * sms));
  std::printf("\nper-block pattern: grid of one wave (8 x 256 threads per SM), each block prefetches its own slice,\n"
              "waits, then reads it; per-block read time (median and 90th percentile over blocks, median of 15 runs)\n");
  std::printf("slice KB  total MB  how                  gap us  block read us (p50)  (p90)\n");
  const char* names[] = {"none", "prefetch.L2", "prefetch.evict_last", "bulk-prefetch"};
  for (long long kb : {8, 16, 32}) {
    const int blocks = 8 * sms;
    const long long slice = kb << 10;
    for (int mode = 0; mode < 4; ++mode)
      for (long long gap : {3000ll, 10000ll}) {
        std::vector<double> p50, p90;
        for (int rep = 0; rep < 15; ++rep) {
          stream_read<<<blocks, 256>>>((const uint4*)flush, flush_bytes / 16, sink);
          own_slice<<<blocks, 256>>>(w, slice, mode, gap, t, sink);
          CHECK(cudaDeviceSynchronize());
          std::vector<unsigned long long> h(2 * blocks);
          CHECK(cudaMemcpy(h.data(), t, sizeof(unsigned long long) * 2 * blocks, cudaMemcpyDeviceToHost));
          std::vector<double> d(blocks);
          for (int b = 0; b < blocks; ++b) d[b] = (double)(h[2 * b + 1] - h[2 * b]) / 1000.0;
          std::sort(d.begin(), d.end());
          p50.push_back(d[blocks / 2]);
          p90.push_back(d[blocks * 9 / 10]);
        }
        std::sort(p50.begin(), p50.end());
        std::sort(p90.begin(), p90.end());
        std::printf("%8lld  %8.1f  %-20s %6.1f  %19.2f  %5.2f\n", kb, (double)blocks * slice / 1e6, names[mode],
                    gap / 1000.0, p50[7], p90[7]);
      }
  }
  return 0;
}

int main() {
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const long long flush_bytes = 512ll << 20;
  char *flush, *w;
  unsigned* sink;
  CHECK(cudaMalloc(&flush, flush_bytes));
  CHECK(cudaMalloc(&w, 64ll << 20));
  CHECK(cudaMalloc(&sink, 4));
  CHECK(cudaMemset(flush, 1, flush_bytes));
  CHECK(cudaMemset(w, 2, 64ll << 20));
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  const int blocks = sms * 8, threads = 256;
  std::printf("bytes MB  how             gap us   read us   read GB/s   (median of 15; cold = no prefetch)\n");
  for (long long mb : {8, 16, 32}) {
    const long long bytes = mb << 20;
    for (int how = 0; how < 4; ++how) {
      for (long long gap_us : {0ll, 5ll, 10ll, 20ll}) {
        if (how == 0 && gap_us) continue;
        std::vector<float> t;
        for (int rep = 0; rep < 15; ++rep) {
          stream_read<<<blocks, threads>>>((const uint4*)flush, flush_bytes / 16, sink);  // evict w from L2
          if (how == 1) prefetch_lines<<<blocks, threads>>>(w, bytes);
          if (how == 2) prefetch_bulk<<<sms, 32>>>(w, bytes);
          if (how == 3) stream_read<<<blocks, threads>>>((const uint4*)w, bytes / 16, sink);  // loads, discarded
          if (gap_us) spin_ns<<<1, 32>>>(gap_us * 1000);
          CHECK(cudaEventRecord(a));
          stream_read<<<blocks, threads>>>((const uint4*)w, bytes / 16, sink);
          CHECK(cudaEventRecord(b));
          CHECK(cudaEventSynchronize(b));
          float ms = 0;
          CHECK(cudaEventElapsedTime(&ms, a, b));
          t.push_back(ms * 1000.f);
        }
        std::sort(t.begin(), t.end());
        const char* names[] = {"cold", "prefetch.L2", "bulk-prefetch", "loads"};
        std::printf("%8lld  %-14s %6lld %9.2f %11.0f\n", mb, names[how], gap_us, t[7], bytes / (t[7] * 1e3));
      }
    }
  }
  return own_slice_probe(sms, flush, flush_bytes, w, sink);
}
