// Kernel-boundary latency probe (Hopper): how long after the last block of a kernel finishes its stores does
// a dependent kernel see them, (a) through programmatic dependent launch (griddepcontrol.wait releases when
// the primary grid has completed and flushed) and (b) through a completion counter the primary's blocks
// bump with release semantics and the dependent's blocks poll with acquire loads.
// The decode step is ~160 dependent launches; this latency is paid at each one. Build and run on the GPU:
//   nvcc -O3 -arch=sm_90a -o /tmp/boundary_latency bench/gpu/boundary_latency.cu && /tmp/boundary_latency
#include <cuda_runtime.h>

#include "probe_check.h"

#include <algorithm>
#include <cstdio>
#include <vector>

__device__ __forceinline__ unsigned long long now() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Every block spins `cycles` clocks, writes its slice of `data`, records when it finished, then (counter
// mode) publishes its completion.
__global__ void producer(long long cycles, float* data, unsigned long long* t_end, unsigned* counter, int use_counter) {
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;");
  const long long c0 = clock64();
  while (clock64() - c0 < cycles) {
  }
  data[blockIdx.x * blockDim.x + threadIdx.x] = static_cast<float>(blockIdx.x);
  if (use_counter) {
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
      t_end[blockIdx.x] = now();
      asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter) : "memory");
    }
  } else {
    __syncthreads();
    if (threadIdx.x == 0) t_end[blockIdx.x] = now();
  }
}

// Records when each block may read the producer's output; checks it reads the final values.
__global__ void consumer(const float* data, int n, unsigned long long* t_rel, unsigned* counter, unsigned expect,
                         int use_counter, int* bad) {
  if (use_counter) {
    if (threadIdx.x == 0) {
      unsigned v;
      do {
        asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(counter) : "memory");
      } while (v < expect);
    }
    __syncthreads();
  } else {
    asm volatile("griddepcontrol.wait;" ::: "memory");
  }
  if (threadIdx.x == 0) t_rel[blockIdx.x] = now();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    if (data[i] != static_cast<float>(i / blockDim.x)) atomicAdd(bad, 1);
}

int main() {
  const int threads = 256;
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  float* data;
  unsigned long long *t_end, *t_rel;
  unsigned* counter;
  int* bad;
  const int max_blocks = 8 * sms * 4;
  CHECK(cudaMalloc(&data, sizeof(float) * max_blocks * threads));
  CHECK(cudaMalloc(&t_end, sizeof(unsigned long long) * max_blocks));
  CHECK(cudaMalloc(&t_rel, sizeof(unsigned long long) * max_blocks));
  CHECK(cudaMalloc(&counter, sizeof(unsigned)));
  CHECK(cudaMalloc(&bad, sizeof(int)));
  CHECK(cudaMemset(bad, 0, sizeof(int)));
  cudaStream_t s;
  CHECK(cudaStreamCreate(&s));
  std::printf("producer grid      consumer  mode     first-release us  last-release us   (median of 31)\n");
  for (int waves : {1, 3}) {
    const int pblocks = 8 * sms * waves;  // 8 blocks of 256 threads per SM per wave
    for (int cblocks : {sms, 8 * sms}) {
      for (int mode = 0; mode < 2; ++mode) {
        std::vector<double> first, last;
        for (int rep = 0; rep < 31; ++rep) {
          CHECK(cudaMemsetAsync(counter, 0, sizeof(unsigned), s));
          CHECK(cudaMemsetAsync(data, 0, sizeof(float) * pblocks * threads, s));
          producer<<<pblocks, threads, 0, s>>>(20000, data, t_end, counter, mode);
          cudaLaunchConfig_t cfg = {};
          cfg.gridDim = dim3(cblocks);
          cfg.blockDim = dim3(threads);
          cfg.stream = s;
          cudaLaunchAttribute attr[1];
          attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
          attr[0].val.programmaticStreamSerializationAllowed = 1;
          cfg.attrs = attr;
          cfg.numAttrs = 1;
          CHECK(cudaLaunchKernelEx(&cfg, consumer, (const float*)data, pblocks * threads, t_rel, counter,
                                   (unsigned)pblocks, mode, bad));
          CHECK(cudaStreamSynchronize(s));
          std::vector<unsigned long long> e(pblocks), r(cblocks);
          CHECK(cudaMemcpy(e.data(), t_end, sizeof(unsigned long long) * pblocks, cudaMemcpyDeviceToHost));
          CHECK(cudaMemcpy(r.data(), t_rel, sizeof(unsigned long long) * cblocks, cudaMemcpyDeviceToHost));
          const unsigned long long end = *std::max_element(e.begin(), e.end());
          first.push_back((double)((long long)*std::min_element(r.begin(), r.end()) - (long long)end) / 1000.0);
          last.push_back((double)((long long)*std::max_element(r.begin(), r.end()) - (long long)end) / 1000.0);
        }
        std::sort(first.begin(), first.end());
        std::sort(last.begin(), last.end());
        std::printf("%5d x %3d      %5d     %-8s %10.2f %17.2f\n", pblocks, threads, cblocks,
                    mode ? "counter" : "pdl-wait", first[15], last[15]);
      }
    }
  }
  int nbad = 0;
  CHECK(cudaMemcpy(&nbad, bad, sizeof(int), cudaMemcpyDeviceToHost));
  std::printf("stale reads seen by consumers: %d\n", nbad);
  return nbad != 0;
}
