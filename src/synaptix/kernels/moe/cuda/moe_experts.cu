
#define P (M * K)
#define DOWN_ROWS (WARPS * DOWN_RPW)

struct MoeGroups {
  int ids[P];
  int expert[P];                  // slot -> expert id
  unsigned long long members[P];  // slot -> mask of the pairs (t * K + s) routed to it
  unsigned lead_mask[2];
  int count;                      // distinct experts this step
};

// The step's distinct experts in order of first appearance (slots) and the pairs routed to each. Every
// thread of the block calls it; needs blockDim.x >= 64.
__device__ void moe_group(const int* __restrict__ ids, MoeGroups& g) {
  const int t = threadIdx.x;
  if (t < P) {
    g.ids[t] = ids[t];
    g.members[t] = 0ull;
  }
  __syncthreads();
  int first = t;
  if (t < P) {
    const int e = g.ids[t];
    for (int q = 0; q < t; ++q)
      if (g.ids[q] == e) { first = q; break; }
  }
  if (t < 64) {
    const unsigned b = __ballot_sync(0xffffffffu, t < P && first == t);
    if ((t & 31) == 0) g.lead_mask[t >> 5] = b;
  }
  __syncthreads();
  if (t < P) {
    const unsigned long long lead = (unsigned long long)g.lead_mask[0] | ((unsigned long long)g.lead_mask[1] << 32);
    const int slot = __popcll(lead & ((1ull << first) - 1ull));
    if (first == t) g.expert[slot] = g.ids[t];
    atomicOr(&g.members[slot], 1ull << t);
    if (t == 0) g.count = __popcll(lead);
  }
  __syncthreads();
}

// The pairs of one slot in ascending order, -1 past the last (a token picks an expert at most once, so a
// slot holds at most M pairs). Fully unrolled: the indices stay in registers.
__device__ __forceinline__ void slot_pairs(unsigned long long m, int (&pr)[M]) {
#pragma unroll
  for (int j = 0; j < M; ++j) {
    pr[j] = m ? __ffsll((long long)m) - 1 : -1;
    m &= m - 1ull;
  }
}

__device__ __forceinline__ float dot8(uint4 q, float4 a, float4 b, float s) {
  s = fmaf(bf16_lo(q.x), a.x, s); s = fmaf(bf16_hi(q.x), a.y, s);
  s = fmaf(bf16_lo(q.y), a.z, s); s = fmaf(bf16_hi(q.y), a.w, s);
  s = fmaf(bf16_lo(q.z), b.x, s); s = fmaf(bf16_hi(q.z), b.y, s);
  s = fmaf(bf16_lo(q.w), b.z, s); s = fmaf(bf16_hi(q.w), b.w, s);
  return s;
}

// grid (inter / WARPS, slots): warp i of the block computes intermediate unit i (rows 2i gate, 2i+1 up) of
// the slot's expert for every pair routed to it.
extern "C" __global__ void __launch_bounds__(WARPS * 32)
moe_gate_up(const float* __restrict__ x, const int* __restrict__ ids, const unsigned long long* __restrict__ w_ptrs,
            float* __restrict__ act, int h, int inter) {
  __shared__ MoeGroups g;
  pdl_wait();
  pdl_launch_dependents();
  moe_group(ids, g);
  if ((int)blockIdx.y >= g.count) return;
  int pr[M];
  slot_pairs(g.members[blockIdx.y], pr);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int i = blockIdx.x * WARPS + warp;
  if (i >= inter) return;
  const int kv = h >> 3;
  const uint4* wg = reinterpret_cast<const uint4*>(w_ptrs[g.expert[blockIdx.y]]) + (size_t)(2 * i) * kv;
  const uint4* wu = wg + kv;
  float ag[M], au[M];
#pragma unroll
  for (int j = 0; j < M; ++j) ag[j] = au[j] = 0.f;
  for (int base = lane; base < kv; base += 32 * UNROLL) {
    uint4 qg[UNROLL], qu[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int c = base + u * 32;
      qg[u] = c < kv ? load_stream_u4(wg + c) : make_uint4(0, 0, 0, 0);
      qu[u] = c < kv ? load_stream_u4(wu + c) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int c = base + u * 32;
      if (c < kv) {
#pragma unroll
        for (int j = 0; j < M; ++j)
          if (pr[j] >= 0) {
            const float4* xp = reinterpret_cast<const float4*>(x + (size_t)(pr[j] / K) * h + (size_t)c * 8);
            const float4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
            ag[j] = dot8(qg[u], x0, x1, ag[j]);
            au[j] = dot8(qu[u], x0, x1, au[j]);
          }
      }
    }
  }
#pragma unroll
  for (int j = 0; j < M; ++j)
    if (pr[j] >= 0) {  // uniform across the warp
      const float gv = warp_sum(ag[j]), uv = warp_sum(au[j]);
      if (lane == 0) act[(size_t)pr[j] * inter + i] = gv / (1.f + expf(-gv)) * uv;
    }
}

// Rows row0 .. row0 + DOWN_RPW - 1 (this warp's) of one expert's down projection for each pair routed to it,
// warp-reduced (every lane holds the sums).
__device__ __forceinline__ void down_rows(const float* __restrict__ act, const uint4* w, const int (&pr)[M], int row0, int h,
                                          int inter, float (&acc)[DOWN_RPW][M]) {
  const int lane = threadIdx.x & 31;
  const int kv = inter >> 3;
  const uint4* wrow[DOWN_RPW];
  bool valid[DOWN_RPW];
#pragma unroll
  for (int r = 0; r < DOWN_RPW; ++r) {
    valid[r] = row0 + r < h;
    wrow[r] = w + (size_t)(valid[r] ? row0 + r : 0) * kv;
#pragma unroll
    for (int j = 0; j < M; ++j) acc[r][j] = 0.f;
  }
  for (int base = lane; base < kv; base += 32 * UNROLL) {
    uint4 q[UNROLL][DOWN_RPW];
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int c = base + u * 32;
#pragma unroll
      for (int r = 0; r < DOWN_RPW; ++r)
        q[u][r] = (c < kv && valid[r]) ? load_stream_u4(wrow[r] + c) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int c = base + u * 32;
      if (c < kv) {
#pragma unroll
        for (int j = 0; j < M; ++j)
          if (pr[j] >= 0) {
            const float4* ap = reinterpret_cast<const float4*>(act + (size_t)pr[j] * inter + (size_t)c * 8);
            const float4 a0 = __ldg(ap), a1 = __ldg(ap + 1);
#pragma unroll
            for (int r = 0; r < DOWN_RPW; ++r) acc[r][j] = dot8(q[u][r], a0, a1, acc[r][j]);
          }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < DOWN_RPW; ++r)
#pragma unroll
    for (int j = 0; j < M; ++j) acc[r][j] = warp_sum(acc[r][j]);
}

// y[t, row] += sum over k in order of weight[t, k] * out(row, pair t * K + k), out read through `part`; with
// ss_out, each token's sum of squares of its updated rows is added to ss_out[t] (the next layer's RMSNorm
// statistic, as the dense GEMVs' AccumulateSumSq epilogue). The whole block calls it.
template <typename Part>
__device__ __forceinline__ void add_weighted(const float* __restrict__ wts, float* __restrict__ y, int h, Part part,
                                             float* __restrict__ ss_out) {
  __shared__ float tok_ss[M];
  if (threadIdx.x < M) tok_ss[threadIdx.x] = 0.f;
  __syncthreads();
  for (int idx = threadIdx.x; idx < DOWN_ROWS * M; idx += blockDim.x) {
    const int t = idx / DOWN_ROWS, rl = idx - t * DOWN_ROWS;
    const int row = blockIdx.x * DOWN_ROWS + rl;
    if (row < h) {
      float s = 0.f;
#pragma unroll
      for (int k = 0; k < K; ++k) s = fmaf(wts[t * K + k], part(rl, t * K + k), s);
      const float v = y[(size_t)t * h + row] + s;
      y[(size_t)t * h + row] = v;
      if (ss_out) atomicAdd(&tok_ss[t], v * v);
    }
  }
  if (ss_out) {
    __syncthreads();
    if (threadIdx.x < M) atomicAdd(&ss_out[threadIdx.x], tok_ss[threadIdx.x]);
  }
}

// grid (hidden / DOWN_ROWS): the block's rows of every distinct expert's down projection, each pair's
// result kept in shared memory, then per token the weighted sum over its slots in slot order added to
// the residual once (HF adds the MoE output to the residual the same way).
extern "C" __global__ void __launch_bounds__(WARPS * 32)
moe_down(const float* __restrict__ act, const int* __restrict__ ids, const float* __restrict__ wts,
         const unsigned long long* __restrict__ w_ptrs, float* __restrict__ y, int h, int inter,
         float* __restrict__ ss_out) {
  __shared__ MoeGroups g;
  __shared__ float part[DOWN_ROWS][P];
  pdl_wait();
  pdl_launch_dependents();
  moe_group(ids, g);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int slot = 0; slot < g.count; ++slot) {
    int pr[M];
    slot_pairs(g.members[slot], pr);
    float acc[DOWN_RPW][M];
    down_rows(act, reinterpret_cast<const uint4*>(w_ptrs[g.expert[slot]]), pr, blockIdx.x * DOWN_ROWS + warp * DOWN_RPW, h,
              inter, acc);
#pragma unroll
    for (int r = 0; r < DOWN_RPW; ++r)
#pragma unroll
      for (int j = 0; j < M; ++j)
        if (pr[j] >= 0 && lane == 0) part[warp * DOWN_RPW + r][pr[j]] = acc[r][j];
  }
  __syncthreads();
  add_weighted(wts, y, h, [&](int rl, int pair) { return part[rl][pair]; }, ss_out);
}

// The same with the experts spread over the grid: grid (hidden / DOWN_ROWS, slots), each block one slot's
// rows, written per pair to `scratch` [P, h]; the last block of a row block to finish (counter per row
// block, re-armed) adds the weighted sums in the same order as moe_down. More loads in flight at a time
// than one block walking every expert.
extern "C" __global__ void __launch_bounds__(WARPS * 32)
moe_down_spread(const float* __restrict__ act, const int* __restrict__ ids, const float* __restrict__ wts,
                const unsigned long long* __restrict__ w_ptrs, float* __restrict__ y, int h, int inter,
                float* __restrict__ scratch, unsigned int* __restrict__ counters, float* __restrict__ ss_out) {
  __shared__ MoeGroups g;
  __shared__ int is_last;
  pdl_wait();
  pdl_launch_dependents();
  moe_group(ids, g);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int slot = blockIdx.y;
  if (slot < g.count) {
    int pr[M];
    slot_pairs(g.members[slot], pr);
    float acc[DOWN_RPW][M];
    const int row0 = blockIdx.x * DOWN_ROWS + warp * DOWN_RPW;
    down_rows(act, reinterpret_cast<const uint4*>(w_ptrs[g.expert[slot]]), pr, row0, h, inter, acc);
#pragma unroll
    for (int r = 0; r < DOWN_RPW; ++r)
#pragma unroll
      for (int j = 0; j < M; ++j)
        if (pr[j] >= 0 && lane == 0 && row0 + r < h) scratch[(size_t)pr[j] * h + row0 + r] = acc[r][j];
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) is_last = atomicAdd(&counters[blockIdx.x], 1u) == gridDim.y - 1;
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  add_weighted(wts, y, h, [&](int rl, int pair) {
    float v;
    asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(scratch + (size_t)pair * h + blockIdx.x * DOWN_ROWS + rl));
    return v;
  }, ss_out);
  if (threadIdx.x == 0) counters[blockIdx.x] = 0u;
}
