#include "synaptix/kernels/sampling/cuda/argmax_cuda.h"

#include <string>

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {
const char* kBody = R"(
__device__ __forceinline__ void better(float& bv, int& bi, float v, int i) {
  // NaN never wins; ties go to the lower index.
  if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
}
extern "C" __global__ void __launch_bounds__(1024) argmax_rows(const float* __restrict__ logits, int* ids, int* host_ids, int vocab) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float sv[32];
  __shared__ int si[32];
  const float* row = logits + (size_t)blockIdx.x * vocab;
  float bv = -INFINITY; int bi = 0x7fffffff;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) better(bv, bi, row[i], i);
  for (int o = 16; o > 0; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, bv, o); int j = __shfl_xor_sync(0xffffffffu, bi, o);
    better(bv, bi, v, j);
  }
  if ((threadIdx.x & 31) == 0) { sv[threadIdx.x >> 5] = bv; si[threadIdx.x >> 5] = bi; }
  __syncthreads();
  if (threadIdx.x < 32) {
    bv = threadIdx.x < (blockDim.x >> 5) ? sv[threadIdx.x] : -INFINITY;
    bi = threadIdx.x < (blockDim.x >> 5) ? si[threadIdx.x] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) {
      float v = __shfl_xor_sync(0xffffffffu, bv, o); int j = __shfl_xor_sync(0xffffffffu, bi, o);
      better(bv, bi, v, j);
    }
    if (threadIdx.x == 0) {
      ids[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
      if (host_ids) host_ids[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
    }
  }
}
// Split form for long rows: blocks (row, s) reduce slices to partial (value, index) pairs; the last block of
// a row to finish (a per-row counter, re-armed by that block) reduces the row's pairs. Each of the many
// blocks is short, where one block per row walks 128K logits alone, and no second launch waits on them.
extern "C" __global__ void __launch_bounds__(256) argmax_split(const float* __restrict__ logits, float* pv, int* pi,
                                                              unsigned* counters, int* ids, int* host_ids, int vocab) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float sv[8];
  __shared__ int si[8];
  __shared__ bool last;
  const int S = gridDim.y, s = blockIdx.y;
  const int per = (vocab + S - 1) / S, lo = s * per, hi = min(vocab, lo + per);
  const float* row = logits + (size_t)blockIdx.x * vocab;
  float bv = -INFINITY; int bi = 0x7fffffff;
  for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) better(bv, bi, row[i], i);
  for (int o = 16; o > 0; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, bv, o); int j = __shfl_xor_sync(0xffffffffu, bi, o);
    better(bv, bi, v, j);
  }
  if ((threadIdx.x & 31) == 0) { sv[threadIdx.x >> 5] = bv; si[threadIdx.x >> 5] = bi; }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < (int)(blockDim.x >> 5); ++w) better(bv, bi, sv[w], si[w]);
    pv[blockIdx.x * S + s] = bv;
    pi[blockIdx.x * S + s] = bi;
    __threadfence();
    last = atomicAdd(&counters[blockIdx.x], 1u) == (unsigned)(S - 1);
  }
  __syncthreads();
  if (!last || threadIdx.x >= 32) return;
  __threadfence();
  bv = -INFINITY; bi = 0x7fffffff;
  for (int i = threadIdx.x; i < S; i += 32) better(bv, bi, __ldcg(pv + blockIdx.x * S + i), __ldcg(pi + blockIdx.x * S + i));
  for (int o = 16; o > 0; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, bv, o); int j = __shfl_xor_sync(0xffffffffu, bi, o);
    better(bv, bi, v, j);
  }
  if (threadIdx.x == 0) {
    const int id = bi == 0x7fffffff ? 0 : bi;
    ids[blockIdx.x] = id;
    if (host_ids) host_ids[blockIdx.x] = id;
    counters[blockIdx.x] = 0u;
  }
}
)";
}  // namespace

int64_t argmax_scratch_bytes(int64_t capacity) { return capacity * kArgmaxSplits * 8 + capacity * 4; }

std::string argmax_source() { return std::string(bc::kDevicePrelude) + kBody; }

void argmax_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, CUstream stream,
                 CUdeviceptr scratch, int64_t capacity, CUdeviceptr host_ids) {
  if (rows <= 0 || vocab <= 0) fail("argmax_rows: bad shape rows=", rows, " vocab=", vocab);
  if (scratch && rows > capacity)
    fail("argmax_rows: ", rows, " rows exceed the scratch's capacity of ", capacity, " (argmax_scratch_bytes)");
  int v = static_cast<int>(vocab);
  if (scratch && vocab >= 64 * kArgmaxSplits) {
    CUfunction f = bc::cached_kernel("argmax_rows", argmax_source, "argmax_split");
    // Pairs of this call's rows at the front; the counters after the pairs of `capacity` rows, so a call
    // with more rows never writes pairs over the counters of a call with fewer.
    CUdeviceptr pv = scratch, pi = scratch + static_cast<CUdeviceptr>(rows * kArgmaxSplits) * 4;
    CUdeviceptr counters = scratch + static_cast<CUdeviceptr>(capacity * kArgmaxSplits) * 8;
    void* args[] = {&logits, &pv, &pi, &counters, &ids, &host_ids, &v};
    bc::launch(f, {static_cast<unsigned>(rows), static_cast<unsigned>(kArgmaxSplits)}, {256}, 0, stream, args,
               "argmax_split");
    return;
  }
  CUfunction f = bc::cached_kernel("argmax_rows", argmax_source, "argmax_rows");
  void* args[] = {&logits, &ids, &host_ids, &v};
  bc::launch(f, {static_cast<unsigned>(rows)}, {1024}, 0, stream, args, "argmax_rows");
}

}  // namespace synaptix::kernels::cuda
