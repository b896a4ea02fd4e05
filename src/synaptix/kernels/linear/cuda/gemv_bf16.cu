
#define GROUPS (WARPS / KS)
#define ROWS_PER_BLOCK (GROUPS * RPW)
#if STAGES > 0
// Bulk-copy path: the weight rows stream through a ring of STAGES shared-memory stages, each holding KC
// columns of the block's ROWS_PER_BLOCK rows (a [ROWS_PER_BLOCK][KC] bf16 tile), filled by Hopper bulk
// asynchronous copies (one per row) that one extra warp (the producer, index WARPS) issues; the WARPS
// consumer warps read the tiles from shared memory. Bytes in flight per block: up to STAGES * CHUNK_BYTES,
// held by the copy engine instead of registers.
#define THREADS ((WARPS + 1) * 32)
#define KC (CHUNK_BYTES / (ROWS_PER_BLOCK * 2))
#define KCV (KC / 8)
static_assert(KC % 8 == 0 && KC > 0, "a stage holds whole 16-byte vectors of every row");
// The consumer warps synchronise among themselves (the producer warp has left by then).
#define CONSUMER_SYNC() asm volatile("bar.sync 1, %0;" ::"n"(WARPS * 32) : "memory")
#define PREFETCH_THREADS (WARPS * 32)  // the consumer warps prefetch, the producer starts its copies
__device__ __forceinline__ unsigned smem_u32(const void* p) { return static_cast<unsigned>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void mbar_init(unsigned long long* bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}
// One arrival that also announces `bytes` of bulk copies completing on this barrier's current phase.
__device__ __forceinline__ void mbar_arrive_expect_tx(unsigned long long* bar, unsigned bytes) {
  asm volatile("{\n\t.reg .b64 state;\n\tmbarrier.arrive.expect_tx.shared::cta.b64 state, [%0], %1;\n\t}" ::"r"(smem_u32(bar)),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned long long* bar) {
  asm volatile("{\n\t.reg .b64 state;\n\tmbarrier.arrive.shared::cta.b64 state, [%0];\n\t}" ::"r"(smem_u32(bar)) : "memory");
}
// Spins until the phase of parity `parity` has completed.
__device__ __forceinline__ void mbar_wait(unsigned long long* bar, unsigned parity) {
  const unsigned addr = smem_u32(bar);
  unsigned done = 0;
  do {
    asm volatile("{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\tselp.u32 %0, 1, 0, p;\n\t}"
                 : "=r"(done)
                 : "r"(addr), "r"(parity)
                 : "memory");
  } while (!done);
}
// `bytes` (a multiple of 16, both addresses 16-byte aligned) from global to shared memory, completing on `bar`.
__device__ __forceinline__ void bulk_copy_g2s(void* dst, const void* src, unsigned bytes, unsigned long long* bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(smem_u32(dst)),
               "l"(src), "r"(bytes), "r"(smem_u32(bar))
               : "memory");
}
#else
#define THREADS (WARPS * 32)
#define CONSUMER_SYNC() __syncthreads()
#define PREFETCH_THREADS blockDim.x
#endif

// acc[r][j] += W[row r] . x[j] over the 16-byte column vectors c = from, from + STEP, ... (c < to), UNROLL of
// them loaded per row before the first use; wload(r, c) gives row r's vector c. With the RMSNorm prologue x
// is normalised on the fly, and written to xn_out when write_xn.
template <int STEP, class WLoad>
__device__ __forceinline__ void gemv_consume(float (&acc)[RPW][M], int from, int to, const bool (&rvalid)[RPW], WLoad wload,
                                             const float* __restrict__ x, int k, const float* __restrict__ gamma,
                                             const float (&inv)[M], float* __restrict__ xn_out, bool write_xn) {
  for (int base = from; base < to; base += STEP * UNROLL) {
    uint4 wv[UNROLL][RPW];
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int c = base + u * STEP;
#pragma unroll
      for (int r = 0; r < RPW; ++r) wv[u][r] = (c < to && rvalid[r]) ? wload(r, c) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int c = base + u * STEP;
      if (c < to) {
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
          if (write_xn) {
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
}

extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS)
gemv_bf16(const float* __restrict__ x, const uint4* __restrict__ w, float* __restrict__ y, int n, int k, int accumulate,
          const float* __restrict__ gamma, const float* __restrict__ ss_in, float eps, float* __restrict__ ss_out,
          float* __restrict__ xn_out, unsigned long long* __restrict__ argmax_words) {
  __shared__ float partial[KS > 1 ? KS : 1][GROUPS][RPW][M];
#if STAGES > 0
  // full_bar[s]: stage s holds its chunk (one arrival + the copies' bytes); empty_bar[s]: every consumer
  // warp is done reading it (WARPS arrivals), so the producer may refill it.
  __shared__ __align__(8) unsigned long long full_bar[STAGES], empty_bar[STAGES];
  extern __shared__ __align__(128) uint4 ring[];
  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(&full_bar[s], 1);
      mbar_init(&empty_bar[s], WARPS);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
#endif
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
  const int groups_total = (n + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
#if STAGES > 0
  if (warp == WARPS) {
    // The producer: the block's row groups in order, each as ceil(k / KC) chunks, stage it % STAGES. The
    // weights are constant, so the first STAGES chunks are copied before the previous kernel has finished.
    int it = 0;
    for (int grp = blockIdx.x; grp < groups_total; grp += gridDim.x) {
      const int first = grp * ROWS_PER_BLOCK;
      const int rows = min(ROWS_PER_BLOCK, n - first);
      for (int k0 = 0; k0 < k; k0 += KC, ++it) {
        const int s = it % STAGES;
        if (it >= STAGES) mbar_wait(&empty_bar[s], ((it / STAGES) - 1) & 1);
        const int cols = min(KC, k - k0);
        if (lane == 0) mbar_arrive_expect_tx(&full_bar[s], (unsigned)(rows * cols * 2));
        __syncwarp();
        for (int r = lane; r < rows; r += 32)
          bulk_copy_g2s(ring + (size_t)s * (CHUNK_BYTES / 16) + (size_t)r * KCV, w + (size_t)(first + r) * kv + (k0 >> 3),
                        (unsigned)(cols * 2), &full_bar[s]);
      }
    }
    return;
  }
#endif
  // The block's weight rows are constant: start pulling them into L2 before waiting for the kernel that
  // produces x (all of its row groups when the launch is persistent), up to PREFETCH_BYTES when set.
  long long budget = PREFETCH_BYTES > 0 ? PREFETCH_BYTES : (1ll << 62);
#if STAGES > 0
  // One row group per block whose rows the ring holds whole: the producer's copies are already requesting
  // every byte, so a prefetch would only repeat the requests to L2.
  if (gridDim.x >= groups_total && (long long)STAGES * KC >= k) budget = 0;
#endif
  for (int grp = blockIdx.x; grp < groups_total && budget > 0; grp += gridDim.x) {
    const long long first = (long long)grp * ROWS_PER_BLOCK;
    const long long rows = min((long long)ROWS_PER_BLOCK, (long long)n - first);
    const char* base = reinterpret_cast<const char*>(w + first * kv);
    const long long bytes = min(rows * kv * 16, budget);
    budget -= bytes;
    for (long long off = (long long)threadIdx.x * 128; off < bytes; off += (long long)PREFETCH_THREADS * 128)
      asm volatile("prefetch.global.L2 [%0];" :: "l"(base + off));
  }
  pdl_wait();
  pdl_launch_dependents();
  float inv[M];
#pragma unroll
  for (int j = 0; j < M; ++j) inv[j] = 1.f;
#if IN_NORM
#pragma unroll
  for (int j = 0; j < M; ++j) inv[j] = rsqrtf(ss_in[j] / (float)k + eps);
#endif
#if STAGES > 0
  int it = 0;  // the producer's chunk sequence, consumed in the same order
#else
  const int per = (kv + KS - 1) / KS;
  const int kb = slice * per, ke = min(kv, kb + per);
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
    bool rvalid[RPW];
#pragma unroll
    for (int r = 0; r < RPW; ++r) rvalid[r] = row0 + r < n;
    // Row group 0's warps (its k-slices) see every chunk of every input row exactly once.
    const bool write_xn = grp == 0 && group == 0;
#if STAGES > 0
    for (int k0 = 0; k0 < k; k0 += KC, ++it) {
      const int s = it % STAGES;
      mbar_wait(&full_bar[s], (it / STAGES) & 1);
      const uint4* tile = ring + (size_t)s * (CHUNK_BYTES / 16) + group * RPW * KCV;
      const int c0 = k0 >> 3, c1 = min(k, k0 + KC) >> 3;
      // The k-slices interleave by warp-wide runs of vectors: each warp reads 512 contiguous bytes of a row.
      gemv_consume<32 * KS>(acc, c0 + slice * 32 + lane, c1, rvalid,
                            [&](int r, int c) { return tile[r * KCV + (c - c0)]; }, x, k, gamma, inv, xn_out, write_xn);
      __syncwarp();
      if (lane == 0) mbar_arrive(&empty_bar[s]);
    }
#else
    const uint4* wrow[RPW];
#pragma unroll
    for (int r = 0; r < RPW; ++r) wrow[r] = w + (size_t)(rvalid[r] ? row0 + r : 0) * kv;
    gemv_consume<32>(acc, kb + lane, ke, rvalid, [&](int r, int c) { return load_stream_u4(wrow[r] + c); }, x, k, gamma,
                     inv, xn_out, write_xn);
#endif
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
    CONSUMER_SYNC();
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
    CONSUMER_SYNC();  // block_ss is zeroed before any lane adds to it
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
    CONSUMER_SYNC();  // partial[] is rewritten by the next group
#endif
  }
#if OUT_MODE == 1
  CONSUMER_SYNC();
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
