
#define EPL ((D + 31) / 32)
#define WARPS 4
#define KPW 4
#if KV_F32
typedef float kv_t;
__device__ __forceinline__ void load_row(const float* p, int lane, float* f) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  if (e0 < D) { float4 u = *reinterpret_cast<const float4*>(p + e0); f[0] = u.x; f[1] = u.y; f[2] = u.z; f[3] = u.w; }
  else { f[0] = f[1] = f[2] = f[3] = 0.f; }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e) f[e] = e0 + e < D ? p[e0 + e] : 0.f;
#endif
}
#else
typedef bf16_t kv_t;
__device__ __forceinline__ void load_row(const bf16_t* p, int lane, float* f) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  if (e0 < D) { uint2 u = *reinterpret_cast<const uint2*>(p + e0); f[0] = bf16_lo(u.x); f[1] = bf16_hi(u.x); f[2] = bf16_lo(u.y); f[3] = bf16_hi(u.y); }
  else { f[0] = f[1] = f[2] = f[3] = 0.f; }
#elif EPL == 8 && (D % 8 == 0)
  if (e0 < D) { uint4 u = *reinterpret_cast<const uint4*>(p + e0);
    f[0] = bf16_lo(u.x); f[1] = bf16_hi(u.x); f[2] = bf16_lo(u.y); f[3] = bf16_hi(u.y);
    f[4] = bf16_lo(u.z); f[5] = bf16_hi(u.z); f[6] = bf16_lo(u.w); f[7] = bf16_hi(u.w); }
  else { for (int e = 0; e < 8; ++e) f[e] = 0.f; }
#elif EPL == 2 && (D % 2 == 0)
  if (e0 < D) { unsigned int u = *reinterpret_cast<const unsigned int*>(p + e0); f[0] = bf16_lo(u); f[1] = bf16_hi(u); }
  else { f[0] = f[1] = 0.f; }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e) f[e] = e0 + e < D ? bf16_to_f32(p[e0 + e]) : 0.f;
#endif
}
#endif

// One warp's online-softmax step over N keys at once (the first `valid` of them): the N x G dot products
// are reduced across the warp together (independent shuffles, no serial chain per key), then one running
// max update per head.
template <int N>
__device__ __forceinline__ void attend_keys(const float (&qv)[G][EPL], const float (&kf)[N][EPL], const float (&vf)[N][EPL],
                                            int valid, float (&m)[G], float (&l)[G], float (&acc)[G][EPL]) {
  float sc[N][G];
#pragma unroll
  for (int u = 0; u < N; ++u)
#pragma unroll
    for (int g = 0; g < G; ++g) {
      float d = 0.f;
#pragma unroll
      for (int e = 0; e < EPL; ++e) d = fmaf(qv[g][e], kf[u][e], d);
      sc[u][g] = d;
    }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
#pragma unroll
    for (int u = 0; u < N; ++u)
#pragma unroll
      for (int g = 0; g < G; ++g) sc[u][g] += __shfl_xor_sync(0xffffffffu, sc[u][g], o);
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float nm = m[g];
#pragma unroll
    for (int u = 0; u < N; ++u)
      if (u < valid) nm = fmaxf(nm, sc[u][g]);
    const float corr = expf(m[g] - nm);
    float lg = l[g] * corr;
#pragma unroll
    for (int e = 0; e < EPL; ++e) acc[g][e] *= corr;
#pragma unroll
    for (int u = 0; u < N; ++u)
      if (u < valid) {
        const float p = expf(sc[u][g] - nm);
        lg += p;
#pragma unroll
        for (int e = 0; e < EPL; ++e) acc[g][e] = fmaf(p, vf[u][e], acc[g][e]);
      }
    l[g] = lg;
    m[g] = nm;
  }
}

// A lane's elements of a cached row as loaded (f32 words, or bf16 pairs), converted to f32 by raw_to_f32
// later: a kernel that loads its first keys before its PDL wait converts them after it, since a conversion
// waits for its load and would put the memory round trip before the wait instead of beside what follows it.
#if KV_F32
#define KV_WORDS EPL
#else
#define KV_WORDS ((EPL + 1) / 2)
#endif
struct KvRaw {
  unsigned int w[KV_WORDS];
};
__device__ __forceinline__ void load_row_raw(const kv_t* p, int lane, KvRaw& r) {
  const int e0 = lane * EPL;
#if KV_F32 && EPL == 4 && (D % 4 == 0)
  if (e0 < D) { const uint4 u = *reinterpret_cast<const uint4*>(p + e0); r.w[0] = u.x; r.w[1] = u.y; r.w[2] = u.z; r.w[3] = u.w; }
  else { r.w[0] = r.w[1] = r.w[2] = r.w[3] = 0u; }
#elif KV_F32
#pragma unroll
  for (int e = 0; e < EPL; ++e) r.w[e] = e0 + e < D ? __float_as_uint(p[e0 + e]) : 0u;
#elif EPL == 4 && (D % 4 == 0)
  if (e0 < D) { const uint2 u = *reinterpret_cast<const uint2*>(p + e0); r.w[0] = u.x; r.w[1] = u.y; }
  else { r.w[0] = r.w[1] = 0u; }
#elif EPL == 8 && (D % 8 == 0)
  if (e0 < D) { const uint4 u = *reinterpret_cast<const uint4*>(p + e0); r.w[0] = u.x; r.w[1] = u.y; r.w[2] = u.z; r.w[3] = u.w; }
  else { r.w[0] = r.w[1] = r.w[2] = r.w[3] = 0u; }
#elif EPL == 2 && (D % 2 == 0)
  r.w[0] = e0 < D ? *reinterpret_cast<const unsigned int*>(p + e0) : 0u;
#else
#pragma unroll
  for (int i = 0; i < KV_WORDS; ++i) r.w[i] = 0u;
#pragma unroll
  for (int e = 0; e < EPL; ++e)
    if (e0 + e < D) r.w[e / 2] |= (unsigned int)p[e0 + e] << (16 * (e & 1));
#endif
}
__device__ __forceinline__ void raw_to_f32(const KvRaw& r, float* f) {
#pragma unroll
  for (int e = 0; e < EPL; ++e)
#if KV_F32
    f[e] = __uint_as_float(r.w[e]);
#else
    f[e] = (e & 1) ? bf16_hi(r.w[e / 2]) : bf16_lo(r.w[e / 2]);
#endif
}
// Cached K/V rows j0 .. j0 + N - 1 below `lim` into raw registers (see KvRaw; zeros past it).
template <int N>
__device__ __forceinline__ void load_keys_raw(const kv_t* __restrict__ kc, const kv_t* __restrict__ vc, const int* table,
                                              int block_size, int KVH, int kvh, int j0, int lim, int lane,
                                              KvRaw (&kr)[N], KvRaw (&vr)[N]) {
#pragma unroll
  for (int u = 0; u < N; ++u) {
    const int j = j0 + u;
    if (j < lim) {
      const long long slot = (long long)table[j / block_size] * block_size + j % block_size;
      load_row_raw(kc + (slot * KVH + kvh) * D, lane, kr[u]);
      load_row_raw(vc + (slot * KVH + kvh) * D, lane, vr[u]);
    } else {
#pragma unroll
      for (int i = 0; i < KV_WORDS; ++i) kr[u].w[i] = vr[u].w[i] = 0u;
    }
  }
}

// Cached K/V rows j0 .. j0 + N - 1 below `lim` into registers as f32 (zeros past it).
template <int N>
__device__ __forceinline__ void load_keys(const kv_t* __restrict__ kc, const kv_t* __restrict__ vc, const int* table,
                                          int block_size, int KVH, int kvh, int j0, int lim, int lane,
                                          float (&kf)[N][EPL], float (&vf)[N][EPL]) {
  KvRaw kr[N], vr[N];
  load_keys_raw(kc, vc, table, block_size, KVH, kvh, j0, lim, lane, kr, vr);
#pragma unroll
  for (int u = 0; u < N; ++u) {
    raw_to_f32(kr[u], kf[u]);
    raw_to_f32(vr[u], vf[u]);
  }
}

// Each warp's running (max, sum, output) through shared memory, combined over the block's NW warps into the
// normalised output (S == 1) or this split's partial (max, sum, unnormalised output) for the combine: in
// global memory [T, H, S, D + 2], or with LOCAL in the block's own shared memory [G * D] O, [G] M, [G] L.
template <int NW, bool LOCAL = false>
__device__ __forceinline__ void combine_warps(const float (&m)[G], const float (&l)[G], const float (&acc)[G][EPL],
                                              float* sm_acc, float* sm_m, float* sm_l, int t, int kvh, int H, int s,
                                              int S, float* __restrict__ partial, float* __restrict__ out) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      if (lane * EPL + e < D) sm_acc[(warp * G + g) * D + lane * EPL + e] = acc[g][e];
    if (lane == 0) { sm_m[warp * G + g] = m[g]; sm_l[warp * G + g] = l[g]; }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < NW; ++w) M = fmaxf(M, sm_m[w * G + g]);
    float L = 0.f, O = 0.f;
    if (M != -INFINITY) {
#pragma unroll
      for (int w = 0; w < NW; ++w) {
        const float c = expf(sm_m[w * G + g] - M);
        L = fmaf(sm_l[w * G + g], c, L);
        O = fmaf(sm_acc[(w * G + g) * D + d], c, O);
      }
    }
    const int h = kvh * G + g;
    if (LOCAL) {
      partial[i] = O;
      if (d == 0) { partial[G * D + g] = M; partial[G * D + G + g] = L; }
    } else if (S == 1) {
      out[(long long)t * H * D + (long long)h * D + d] = O / L;
    } else {
      float* p = partial + (((long long)t * H + h) * S + s) * (D + 2);
      p[d] = O;
      if (d == 0) { p[D] = M; p[D + 1] = L; }
    }
  }
}

// Partials are read from L2 (ld.cg): in the fused decode kernel other blocks of the same launch wrote them.
__device__ __forceinline__ float load_cg(const float* p) {
  float v;
  asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p));
  return v;
}

// Output element d of one (token, head) from its S split partials p[S][D + 2] (unnormalised output, max, sum);
// splits with no keys (sum 0) are skipped.
__device__ __forceinline__ float combine_splits(const float* p, int d, int S) {
  float M = -INFINITY;
  for (int s = 0; s < S; ++s) if (load_cg(p + s * (D + 2) + D + 1) > 0.f) M = fmaxf(M, load_cg(p + s * (D + 2) + D));
  float L = 0.f, O = 0.f;
  for (int s = 0; s < S; ++s) {
    const float* ps = p + s * (D + 2);
    const float ls = load_cg(ps + D + 1);
    if (ls > 0.f) {
      const float c = expf(load_cg(ps + D) - M);
      L = fmaf(ls, c, L);
      O = fmaf(load_cg(ps + d), c, O);
    }
  }
  return O / L;
}

extern "C" __global__ void __launch_bounds__(WARPS * 32)
paged_attention(const float* __restrict__ q, long long q_stride, const kv_t* __restrict__ kc, const kv_t* __restrict__ vc,
                const int* __restrict__ positions, const int* __restrict__ token_seq, const int* __restrict__ block_tables,
                int table_stride, int block_size, int KVH, int window, float scale, int split_size,
                float* __restrict__ partial, float* __restrict__ out) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ float sm[];  // [WARPS][G][D] acc, then [WARPS][G] m, [WARPS][G] l
  float* sm_acc = sm;
  float* sm_m = sm + WARPS * G * D;
  float* sm_l = sm_m + WARPS * G;
  const int t = blockIdx.x, kvh = blockIdx.y, s = blockIdx.z, S = gridDim.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int H = KVH * G;
  const int pos = positions[t];
  const int lo = window > 0 ? max(0, pos - window + 1) : 0;
  const int start = S > 1 ? lo + s * split_size : lo;
  const int end = S > 1 ? min(pos + 1, start + split_size) : pos + 1;
  const int* table = block_tables + (long long)token_seq[t] * table_stride;

  float qv[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const float* qp = q + (long long)t * q_stride + (long long)(kvh * G + g) * D;
#pragma unroll
    for (int e = 0; e < EPL; ++e) qv[g][e] = lane * EPL + e < D ? qp[lane * EPL + e] * scale : 0.f;
  }
  float m[G], l[G], acc[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) acc[g][e] = 0.f;
  }
  for (int j0 = start + warp * KPW; j0 < end; j0 += WARPS * KPW) {
    float kf[KPW][EPL], vf[KPW][EPL];
    load_keys<KPW>(kc, vc, table, block_size, KVH, kvh, j0, end, lane, kf, vf);
    attend_keys<KPW>(qv, kf, vf, end - j0, m, l, acc);
  }
  combine_warps<WARPS>(m, l, acc, sm_acc, sm_m, sm_l, t, kvh, H, s, S, partial, out);
}

// Prefill variant, one key per lane: each lane computes whole dot products for its own key against the G
// query heads (q in shared memory), so the softmax needs one warp reduction per 32 keys instead of one per
// key, and P*V broadcasts each key's weight with one shuffle. Same result as paged_attention with S = 1.
__device__ __forceinline__ void load8(const kv_t* p, float* f) {
#if KV_F32
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
#else
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  f[0] = bf16_lo(u.x); f[1] = bf16_hi(u.x); f[2] = bf16_lo(u.y); f[3] = bf16_hi(u.y);
  f[4] = bf16_lo(u.z); f[5] = bf16_hi(u.z); f[6] = bf16_lo(u.w); f[7] = bf16_hi(u.w);
#endif
}
__device__ __forceinline__ float kv_at(const kv_t* p, int i) {
#if KV_F32
  return p[i];
#else
  return bf16_to_f32(p[i]);
#endif
}

extern "C" __global__ void __launch_bounds__(WARPS * 32)
paged_attention_lanekey(const float* __restrict__ q, long long q_stride, const kv_t* __restrict__ kc, const kv_t* __restrict__ vc,
                        const int* __restrict__ positions, const int* __restrict__ token_seq, const int* __restrict__ block_tables,
                        int table_stride, int block_size, int KVH, int window, float scale, float* __restrict__ out) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ float sm[];  // q [G][D], acc [WARPS][G][D], m [WARPS][G], l [WARPS][G]
  float* qs = sm;
  float* sm_acc = qs + G * D;
  float* sm_m = sm_acc + WARPS * G * D;
  float* sm_l = sm_m + WARPS * G;
  const int t = blockIdx.x, kvh = blockIdx.y;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int H = KVH * G;
  const int pos = positions[t];
  const int lo = window > 0 ? max(0, pos - window + 1) : 0;
  const int end = pos + 1;
  const int* table = block_tables + (long long)token_seq[t] * table_stride;
  for (int i = threadIdx.x; i < G * D; i += blockDim.x)
    qs[i] = q[(long long)t * q_stride + (long long)(kvh * G + i / D) * D + i % D] * scale;
  __syncthreads();
  float m[G], l[G], acc[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) acc[g][e] = 0.f;
  }
  for (int base = lo + warp * 32; base < end; base += WARPS * 32) {
    const int j = base + lane;
    const bool valid = j < end;
    long long slot = 0;
    float s[G];
#pragma unroll
    for (int g = 0; g < G; ++g) s[g] = 0.f;
    if (valid) {
      slot = (long long)table[j / block_size] * block_size + j % block_size;
      const kv_t* kp = kc + (slot * KVH + kvh) * D;
#if D % 8 == 0
      for (int e = 0; e < D; e += 8) {
        float kf[8];
        load8(kp + e, kf);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float4 qa = *reinterpret_cast<const float4*>(qs + g * D + e), qb = *reinterpret_cast<const float4*>(qs + g * D + e + 4);
          s[g] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
        }
      }
#else
      for (int e = 0; e < D; ++e) {
        const float kf = kv_at(kp, e);
#pragma unroll
        for (int g = 0; g < G; ++g) s[g] = fmaf(qs[g * D + e], kf, s[g]);
      }
#endif
    }
    float p[G];
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float cm = warp_max(valid ? s[g] : -INFINITY);
      const float nm = fmaxf(m[g], cm);
      const float corr = expf(m[g] - nm);
      p[g] = valid ? expf(s[g] - nm) : 0.f;
      l[g] = l[g] * corr + p[g];
#pragma unroll
      for (int e = 0; e < EPL; ++e) acc[g][e] *= corr;
      m[g] = nm;
    }
    const int n = min(32, end - base);
    for (int jj = 0; jj < n; ++jj) {
      const long long sj = __shfl_sync(0xffffffffu, slot, jj);
      float vf[EPL];
      load_row(vc + (sj * KVH + kvh) * D, lane, vf);
#pragma unroll
      for (int g = 0; g < G; ++g) {
        const float pj = __shfl_sync(0xffffffffu, p[g], jj);
#pragma unroll
        for (int e = 0; e < EPL; ++e) acc[g][e] = fmaf(pj, vf[e], acc[g][e]);
      }
    }
  }
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const float lt = warp_sum(l[g]);
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      if (lane * EPL + e < D) sm_acc[(warp * G + g) * D + lane * EPL + e] = acc[g][e];
    if (lane == 0) { sm_m[warp * G + g] = m[g]; sm_l[warp * G + g] = lt; }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) M = fmaxf(M, sm_m[w * G + g]);
    float L = 0.f, O = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; ++w) {
      if (sm_m[w * G + g] == -INFINITY) continue;
      const float c = expf(sm_m[w * G + g] - M);
      L = fmaf(sm_l[w * G + g], c, L);
      O = fmaf(sm_acc[(w * G + g) * D + d], c, O);
    }
    out[(long long)t * H * D + (long long)(kvh * G + g) * D + d] = O / L;
  }
}

extern "C" __global__ void attention_combine(const float* __restrict__ partial, float* __restrict__ out, int H, int S) {
  pdl_wait();
  pdl_launch_dependents();
  const int t = blockIdx.x, h = blockIdx.y;
  const float* p = partial + ((long long)t * H + h) * S * (D + 2);
  for (int d = threadIdx.x; d < D; d += blockDim.x) out[(long long)t * H * D + (long long)h * D + d] = combine_splits(p, d, S);
}
// Decode steps (one new token per sequence, every sequence's earlier K/V already cached): RoPE of the token's
// q and k heads, its K/V written to the cache, attention over [lo, pos] split along the sequence, and the
// combine of the splits by the last block of each (token, KV head) to finish: one kernel instead of three.
// Every split block rotates the token's k itself and attends to position pos from its own copy (registers
// with REG_HEADS, else shared memory), so no block reads a cache row another block of this launch writes. DW warps per block, each taking DKPW keys at a time;
// the first keys' loads are issued before the RoPE work, so one memory round trip covers both.
// With CLUSTER (== S), the S split blocks form one cluster: every block pushes each other block the slice of
// its partial that block combines (distributed shared memory stores) and every block combines 1/S of the
// outputs from its own shared memory, so the combine costs one cluster barrier (plus an arrival at the start
// that the pushes wait for) instead of global writes, a fence, an atomic and L2 reads by one last block.
#if KV_F32
__device__ __forceinline__ float to_kv(float f) { return f; }
#else
__device__ __forceinline__ bf16_t to_kv(float f) { return f32_to_bf16(f); }
#endif

// This lane's elements of head h of the token's projection row (+ bias), zeros past D.
__device__ __forceinline__ void load_head(const float* row, const float* bias, int h, int lane, float (&v)[EPL]) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  const float4 u = *reinterpret_cast<const float4*>(row + (long long)h * D + e0);
  v[0] = u.x; v[1] = u.y; v[2] = u.z; v[3] = u.w;
  if (bias) {
    const float4 b = *reinterpret_cast<const float4*>(bias + h * D + e0);
    v[0] += b.x; v[1] += b.y; v[2] += b.z; v[3] += b.w;
  }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e)
    v[e] = e0 + e < D ? row[(long long)h * D + e0 + e] + (bias ? bias[h * D + e0 + e] : 0.f) : 0.f;
#endif
}
// Rotation of this lane's elements with their partners on lane `src` (rotate_half layout), as rope_pair.
__device__ __forceinline__ void rotate_lane(float (&v)[EPL], const float (&c)[EPL], const float (&sn)[EPL], int src,
                                            bool first, bool rotated) {
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const float p = __shfl_sync(0xffffffffu, v[e], src);
    if (rotated) v[e] = first ? v[e] * c[e] - p * sn[e] : v[e] * c[e] + p * sn[e];
  }
}

extern "C" __global__ void __launch_bounds__(DW * 32)
#if CLUSTER
__cluster_dims__(1, 1, CLUSTER)
#endif
decode_attention_rope(const float* __restrict__ qkv, long long q_stride, const float* __restrict__ bias,
                      const float* __restrict__ q_norm, const float* __restrict__ k_norm, float eps,
                      const int* __restrict__ positions, const int* __restrict__ slots, const float* __restrict__ inv_freq,
                      int rot, float attn_scale, kv_t* __restrict__ kc, kv_t* __restrict__ vc,
                      const int* __restrict__ token_seq, const int* __restrict__ block_tables, int table_stride,
                      int block_size, int KVH, int window, float scale, int split_size, float* __restrict__ partial,
                      unsigned int* __restrict__ counters, float* __restrict__ out) {
  // heads: the token's G query heads, then its K and V heads [(G + 2) * D]; freq [D / 2]; then acc
  // [DW][G][D], m [DW][G], l [DW][G]. With CLUSTER the split's partial [G * D + 2 * G] overlays heads and
  // freq (region sized for the larger): they are dead once combine_warps' __syncthreads has passed.
  extern __shared__ float sm[];
  float* heads = sm;
  float* ks = heads + G * D;
  float* vs = ks + D;
  float* freq = vs + D;
#if CLUSTER
  float* sm_acc = sm + ((G + 2) * D + D / 2 > G * D + 2 * G ? (G + 2) * D + D / 2 : G * D + 2 * G);
#else
  float* sm_acc = freq + D / 2;
#endif
  float* sm_m = sm_acc + DW * G * D;
  float* sm_l = sm_m + DW * G;
#if CLUSTER
  // What the cluster's blocks send this block: from each split r its slice of the unnormalised outputs
  // [PER], then its maxima [G] and sums [G] ([CLUSTER][PER + 2 * G], written by the other blocks).
  constexpr int PER = (G * D + CLUSTER - 1) / CLUSTER;
  float* inbox = sm_l + DW * G;
  // This block has started: the arrival the other blocks wait for before they write into its inbox.
  asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory");
#endif
  const int t = blockIdx.x, kvh = blockIdx.y, s = blockIdx.z, S = gridDim.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int H = KVH * G;
  const int pos = positions[t];
  const int lo = window > 0 ? max(0, pos - window + 1) : 0;
  const int start = S > 1 ? lo + s * split_size : lo;
  const int end = S > 1 ? min(pos + 1, start + split_size) : pos + 1;
  const int* table = block_tables + (long long)token_seq[t] * table_stride;
  int j0 = start + warp * DKPW;
  // The step's metadata and the K/V rows of earlier positions were written by kernels that finished before
  // this one could launch (the qkv projection triggers its dependents only after its own wait): their loads
  // go out before waiting for it, and are converted after it.
  KvRaw kr[DKPW], vr[DKPW];
  load_keys_raw(kc, vc, table, block_size, KVH, kvh, j0, min(end, pos), lane, kr, vr);
#if REG_HEADS
  // Every warp keeps the token's heads in registers, lane i holding elements [i * EPL, i * EPL + EPL) as the
  // keys are held: no shared-memory staging and no block barriers before the attention. A lane's elements
  // all lie on one side of each rotation pair (the launcher checks (rot / 2) % EPL == 0), the partner element
  // sits on lane i +- rot / (2 * EPL). Its rotation frequencies are loaded before the wait.
  const int half = rot / 2;
  float fr[EPL];
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    const int idx = lane * EPL + e;
    fr[e] = idx < rot ? inv_freq[idx < half ? idx : idx - half] : 0.f;
  }
  pdl_wait();
  pdl_launch_dependents();
  float hq[G][EPL], hk[EPL], hv[EPL];
  {
    const float* row = qkv + (long long)t * q_stride;
#pragma unroll
    for (int g = 0; g < G; ++g) load_head(row, bias, kvh * G + g, lane, hq[g]);
    load_head(row, bias, H + kvh, lane, hk);
    load_head(row, bias, H + KVH + kvh, lane, hv);
  }
  if (half > 0) {
    const bool first = lane * EPL < half, rotated = lane * EPL < rot;
    const int src = !rotated ? lane : first ? lane + half / EPL : lane - half / EPL;
    float c[EPL], sn[EPL];
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      // As rope_pair: the angle in f32, cos and sin scaled by the attention scaling.
      sincosf((float)pos * fr[e], &sn[e], &c[e]);
      c[e] *= attn_scale; sn[e] *= attn_scale;
    }
    rotate_lane(hk, c, sn, src, first, rotated);
#pragma unroll
    for (int g = 0; g < G; ++g) rotate_lane(hq[g], c, sn, src, first, rotated);
  }
#if !KV_F32
  // Position pos is attended with the values the cache holds (bf16), as every later step will see it.
#pragma unroll
  for (int e = 0; e < EPL; ++e) { hk[e] = bf16_to_f32(f32_to_bf16(hk[e])); hv[e] = bf16_to_f32(f32_to_bf16(hv[e])); }
#endif
  if (s == 0 && warp == 0) {
    const long long off = ((long long)slots[t] * KVH + kvh) * D;
#pragma unroll
    for (int e = 0; e < EPL; ++e)
      if (lane * EPL + e < D) { kc[off + lane * EPL + e] = to_kv(hk[e]); vc[off + lane * EPL + e] = to_kv(hv[e]); }
  }
  float qv[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < EPL; ++e) qv[g][e] = lane * EPL + e < D ? hq[g][e] * scale : 0.f;
#else
  // The rotation frequencies are loaded before the wait into a register and stored after it: a store to
  // shared memory waits for its load, which would put the round trip before the wait.
  const float freq0 = (int)threadIdx.x < rot / 2 ? inv_freq[threadIdx.x] : 0.f;
  pdl_wait();
  pdl_launch_dependents();
  if ((int)threadIdx.x < rot / 2) freq[threadIdx.x] = freq0;
  for (int i = threadIdx.x + blockDim.x; i < rot / 2; i += blockDim.x) freq[i] = inv_freq[i];
  const float* row = qkv + (long long)t * q_stride;
  for (int i = threadIdx.x; i < (G + 2) * D; i += blockDim.x) {
    const int hi = i / D, e = i % D;
    const int h = hi < G ? kvh * G + hi : hi == G ? H + kvh : H + KVH + kvh;
    heads[i] = row[(long long)h * D + e] + (bias ? bias[h * D + e] : 0.f);
  }
  __syncthreads();
  if (q_norm || k_norm) {
    for (int hi = warp; hi <= G; hi += DW) {
      const float* nw = hi < G ? q_norm : k_norm;
      if (nw) head_rms_norm(heads + hi * D, nw, eps, D, lane);
    }
    __syncthreads();
  }
  const int half = rot / 2;
  for (int i = threadIdx.x; i < (G + 1) * half; i += blockDim.x)
    rope_pair(heads + (i / half) * D, i % half, half, (float)pos, freq[i % half], attn_scale);
  __syncthreads();
#if !KV_F32
  // Position pos is attended with the values the cache holds (bf16), as every later step will see it.
  for (int e = threadIdx.x; e < 2 * D; e += blockDim.x) ks[e] = bf16_to_f32(f32_to_bf16(ks[e]));
  __syncthreads();
#endif
  if (s == 0) {
    const long long off = ((long long)slots[t] * KVH + kvh) * D;
    for (int e = threadIdx.x; e < D; e += blockDim.x) { kc[off + e] = to_kv(ks[e]); vc[off + e] = to_kv(vs[e]); }
  }
  float qv[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < EPL; ++e) qv[g][e] = lane * EPL + e < D ? heads[g * D + lane * EPL + e] * scale : 0.f;
#endif
  float kf[DKPW][EPL], vf[DKPW][EPL];
#pragma unroll
  for (int u = 0; u < DKPW; ++u) {
    raw_to_f32(kr[u], kf[u]);
    raw_to_f32(vr[u], vf[u]);
  }
  float m[G], l[G], acc[G][EPL];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY; l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) acc[g][e] = 0.f;
  }
  while (j0 < end) {
    if (pos >= j0 && pos < j0 + DKPW) {
#pragma unroll
      for (int u = 0; u < DKPW; ++u)
        if (j0 + u == pos)
#pragma unroll
          for (int e = 0; e < EPL; ++e) {
#if REG_HEADS
            kf[u][e] = lane * EPL + e < D ? hk[e] : 0.f;
            vf[u][e] = lane * EPL + e < D ? hv[e] : 0.f;
#else
            kf[u][e] = lane * EPL + e < D ? ks[lane * EPL + e] : 0.f;
            vf[u][e] = lane * EPL + e < D ? vs[lane * EPL + e] : 0.f;
#endif
          }
    }
    attend_keys<DKPW>(qv, kf, vf, end - j0, m, l, acc);
    j0 += DW * DKPW;
    if (j0 < end) load_keys(kc, vc, table, block_size, KVH, kvh, j0, min(end, pos), lane, kf, vf);
  }
#if CLUSTER
  float* part = sm;
  combine_warps<DW, true>(m, l, acc, sm_acc, sm_m, sm_l, t, kvh, H, s, S, part, out);
  __syncthreads();  // the split's partial is complete
  // Every block of the cluster has started (its inbox is live): push each rank its slice of this split's
  // outputs and all of its maxima and sums, then one barrier; each block then combines from its own shared
  // memory, so no block reads another's after it and none has to wait for the others before leaving.
  asm volatile("barrier.cluster.wait.aligned;" ::: "memory");
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) st_remote_f32(inbox + s * (PER + 2 * G) + i % PER, i / PER, part[i]);
  for (int i = threadIdx.x; i < 2 * G * CLUSTER; i += blockDim.x)
    st_remote_f32(inbox + s * (PER + 2 * G) + PER + i % (2 * G), i / (2 * G), part[G * D + i % (2 * G)]);
  cluster_sync();  // every split's slice has arrived
  // This block's slice of the G * D outputs, combined exactly as combine_splits does (the cluster spans z
  // and grid z == CLUSTER, so split r is cluster rank r).
  const int i_end = min(G * D, (s + 1) * PER);
  for (int i = s * PER + threadIdx.x; i < i_end; i += blockDim.x) {
    const int g = i / D, d = i % D, o = i - s * PER;
    float M = -INFINITY;
#pragma unroll
    for (int r = 0; r < CLUSTER; ++r)
      if (inbox[r * (PER + 2 * G) + PER + G + g] > 0.f) M = fmaxf(M, inbox[r * (PER + 2 * G) + PER + g]);
    float L = 0.f, O = 0.f;
#pragma unroll
    for (int r = 0; r < CLUSTER; ++r) {
      const float* in = inbox + r * (PER + 2 * G);
      if (in[PER + G + g] > 0.f) {
        const float c = expf(in[PER + g] - M);
        L = fmaf(in[PER + G + g], c, L);
        O = fmaf(in[o], c, O);
      }
    }
    out[(long long)t * H * D + (long long)(kvh * G + g) * D + d] = O / L;
  }
#else
  __shared__ int is_last;
  combine_warps<DW>(m, l, acc, sm_acc, sm_m, sm_l, t, kvh, H, s, S, partial, out);
  if (S == 1) return;
  // The last split block of this (token, KV head) to finish combines the partials (as attention_combine),
  // then re-arms the counter for the next launch.
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) is_last = atomicAdd(&counters[t * KVH + kvh], 1u) == (unsigned)(S - 1);
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
    const int g = i / D, d = i % D, h = kvh * G + g;
    out[(long long)t * H * D + (long long)h * D + d] = combine_splits(partial + ((long long)t * H + h) * S * (D + 2), d, S);
  }
  if (threadIdx.x == 0) counters[t * KVH + kvh] = 0u;
#endif
}
