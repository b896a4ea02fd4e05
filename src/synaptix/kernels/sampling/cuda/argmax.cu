
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
