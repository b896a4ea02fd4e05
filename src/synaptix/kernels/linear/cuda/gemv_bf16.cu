
#define GROUPS (WARPS / KS)
extern "C" __global__ void __launch_bounds__(WARPS * 32, MIN_BLOCKS)
gemv_bf16(const float* __restrict__ x, const uint4* __restrict__ w, float* __restrict__ y, int n, int k, int accumulate,
          const float* __restrict__ gamma, const float* __restrict__ ss_in, float eps, float* __restrict__ ss_out,
          float* __restrict__ xn_out, unsigned long long* __restrict__ argmax_words) {
  __shared__ float partial[KS > 1 ? KS : 1][GROUPS][RPW][M];
#if OUT_MODE == 3
  static_assert(RPW * M <= 32, "the argmax epilogue's lane of output (r, j) is r * M + j");
  // This thread's best (row, value) key per input row over the outputs it writes, all row groups.
  unsigned long long best[M];
#pragma unroll
  for (int j = 0; j < M; ++j) best[j] = 0ull;
#endif
#if OUT_MODE == 1
  __shared__ float block_ss[M];
  if (threadIdx.x < M) block_ss[threadIdx.x] = 0.f;
#endif
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int group = warp / KS, slice = warp % KS;
  const int kv = k >> 3;  // 16-byte chunks (8 bf16) per weight row
  const int groups_total = (n + GROUPS * RPW - 1) / (GROUPS * RPW);
  // The block's weight rows are constant: start pulling them into L2 before waiting for the kernel that
  // produces x (all of its row groups when the launch is persistent), up to PREFETCH_BYTES when set.
  long long budget = PREFETCH_BYTES > 0 ? PREFETCH_BYTES : (1ll << 62);
  for (int grp = blockIdx.x; grp < groups_total && budget > 0; grp += gridDim.x) {
    const long long first = (long long)grp * GROUPS * RPW;
    const long long rows = min((long long)GROUPS * RPW, (long long)n - first);
    const char* base = reinterpret_cast<const char*>(w + first * kv);
    const long long bytes = min(rows * kv * 16, budget);
    budget -= bytes;
    for (long long off = (long long)threadIdx.x * 128; off < bytes; off += (long long)blockDim.x * 128)
      asm volatile("prefetch.global.L2 [%0];" :: "l"(base + off));
  }
  pdl_wait();
  pdl_launch_dependents();
  const int per = (kv + KS - 1) / KS;
  const int kb = slice * per, ke = min(kv, kb + per);
#if IN_NORM
  float inv[M];
#pragma unroll
  for (int j = 0; j < M; ++j) inv[j] = rsqrtf(ss_in[j] / (float)k + eps);
#endif
  // A block takes row groups blockIdx.x, + gridDim.x, ...: one group when the grid covers them all, several
  // when the launch is persistent (a grid of one full wave).
  for (int grp = blockIdx.x; grp < groups_total; grp += gridDim.x) {
    const int row0 = (grp * GROUPS + group) * RPW;
    float acc[RPW][M];
#pragma unroll
    for (int r = 0; r < RPW; ++r)
#pragma unroll
      for (int j = 0; j < M; ++j) acc[r][j] = 0.f;
    const uint4* wrow[RPW];
    bool rvalid[RPW];
#pragma unroll
    for (int r = 0; r < RPW; ++r) {
      rvalid[r] = row0 + r < n;
      wrow[r] = w + (size_t)(rvalid[r] ? row0 + r : 0) * kv;
    }
    for (int base = kb + lane; base < ke; base += 32 * UNROLL) {
      uint4 wv[UNROLL][RPW];
#pragma unroll
      for (int u = 0; u < UNROLL; ++u) {
        const int c = base + u * 32;
#pragma unroll
        for (int r = 0; r < RPW; ++r) wv[u][r] = (c < ke && rvalid[r]) ? load_stream_u4(wrow[r] + c) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < UNROLL; ++u) {
        const int c = base + u * 32;
        if (c < ke) {
#if IN_NORM
          const float4 g0 = __ldg(reinterpret_cast<const float4*>(gamma + (size_t)c * 8));
          const float4 g1 = __ldg(reinterpret_cast<const float4*>(gamma + (size_t)c * 8) + 1);
#endif
#pragma unroll
          for (int j = 0; j < M; ++j) {
            const float4* xp = reinterpret_cast<const float4*>(x + (size_t)j * k + (size_t)c * 8);
            float4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
#if IN_NORM
            // The same rounding as the RMSNorm kernel: (x * inv) * gamma.
            x0.x = x0.x * inv[j] * g0.x; x0.y = x0.y * inv[j] * g0.y; x0.z = x0.z * inv[j] * g0.z; x0.w = x0.w * inv[j] * g0.w;
            x1.x = x1.x * inv[j] * g1.x; x1.y = x1.y * inv[j] * g1.y; x1.z = x1.z * inv[j] * g1.z; x1.w = x1.w * inv[j] * g1.w;
#if WRITE_XN
            // Row group 0's warps (its k-slices) see every chunk of every input row exactly once.
            if (grp == 0 && group == 0) {
              float4* xo = reinterpret_cast<float4*>(xn_out + (size_t)j * k + (size_t)c * 8);
              xo[0] = x0;
              xo[1] = x1;
            }
#endif
#endif
#pragma unroll
            for (int r = 0; r < RPW; ++r) {
              const uint4 q = wv[u][r];
              float s = acc[r][j];
              s = fmaf(bf16_lo(q.x), x0.x, s); s = fmaf(bf16_hi(q.x), x0.y, s);
              s = fmaf(bf16_lo(q.y), x0.z, s); s = fmaf(bf16_hi(q.y), x0.w, s);
              s = fmaf(bf16_lo(q.z), x1.x, s); s = fmaf(bf16_hi(q.z), x1.y, s);
              s = fmaf(bf16_lo(q.w), x1.z, s); s = fmaf(bf16_hi(q.w), x1.w, s);
              acc[r][j] = s;
            }
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < RPW; ++r)
#pragma unroll
      for (int j = 0; j < M; ++j) acc[r][j] = warp_sum(acc[r][j]);
#if KS > 1
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < RPW; ++r)
#pragma unroll
        for (int j = 0; j < M; ++j) partial[slice][group][r][j] = acc[r][j];
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < RPW; ++r)
#pragma unroll
      for (int j = 0; j < M; ++j) {
        float s = 0.f;
#pragma unroll
        for (int t = 0; t < KS; ++t) s += partial[t][group][r][j];
        acc[r][j] = s;
      }
#elif OUT_MODE == 1
    __syncthreads();  // block_ss is zeroed before any lane adds to it
#endif
    // Lane (r * M + j) writes output (row0 + r, j): spreads the stores over lanes.
    if (slice == 0) {
#if OUT_MODE == 2 || OUT_MODE == 4
#pragma unroll
      for (int r = 0; r < RPW; r += 2)
#pragma unroll
        for (int j = 0; j < M; ++j)
          if (lane == ((r * M + j) & 31) && rvalid[r]) {
            const float g = acc[r][j], u = acc[r + 1][j];
#if OUT_MODE == 4
            const float gelu = 0.5f * g * (1.f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g)));
            y[(size_t)j * (n >> 1) + ((row0 + r) >> 1)] = gelu * u;
#else
            y[(size_t)j * (n >> 1) + ((row0 + r) >> 1)] = g / (1.f + expf(-g)) * u;
#endif
          }
#else
#pragma unroll
      for (int r = 0; r < RPW; ++r)
#pragma unroll
        for (int j = 0; j < M; ++j)
          if (lane == ((r * M + j) & 31) && rvalid[r]) {
            float* out = y + (size_t)j * n + row0 + r;
#if OUT_MODE == 1
            const float v = *out + acc[r][j];
            *out = v;
            atomicAdd(&block_ss[j], v * v);
#elif OUT_MODE == 3
            *out = acc[r][j];
            const unsigned long long key = argmax_key(acc[r][j], row0 + r);
            best[j] = key > best[j] ? key : best[j];
#else
            *out = accumulate ? *out + acc[r][j] : acc[r][j];
#endif
          }
#endif
    }
#if KS > 1
    __syncthreads();  // partial[] is rewritten by the next group
#endif
  }
#if OUT_MODE == 1
  __syncthreads();
  if (threadIdx.x < M) atomicAdd(&ss_out[threadIdx.x], block_ss[threadIdx.x]);
#endif
#if OUT_MODE == 3
  // One atomic per (row group's warp, input row), relaxed: the reader runs after this grid has completed.
  // Lane r * M + j wrote output (r, j) (RPW * M <= 32), so log2(RPW) shuffles bring row j's best to lane j.
  if (slice == 0) {
#pragma unroll
    for (int j = 0; j < M; ++j) {
      unsigned long long b = best[j];
#pragma unroll
      for (int h = RPW / 2; h >= 1; h >>= 1) {
        const unsigned long long o = __shfl_down_sync(0xffffffffu, b, h * M);
        b = o > b ? o : b;
      }
      if (lane == j && b) atomicMax(argmax_words + (j * ARGMAX_WORDS + ((blockIdx.x * GROUPS + group) & (ARGMAX_WORDS - 1))) * ARGMAX_STRIDE, b);
    }
  }
#endif
}
