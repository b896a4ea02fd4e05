
#define EPL ((D + 31) / 32)
#define WARPS 4
#define KPW 4
#if KV_F32
typedef float kv_t;
__device__ __forceinline__ void load_row(const float* p, int lane, float* f, float) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  if (e0 < D) { float4 u = *reinterpret_cast<const float4*>(p + e0); f[0] = u.x; f[1] = u.y; f[2] = u.z; f[3] = u.w; }
  else { f[0] = f[1] = f[2] = f[3] = 0.f; }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e) f[e] = e0 + e < D ? p[e0 + e] : 0.f;
#endif
}
#elif KV_INT8
// int8 codes (kv_int8.cuh), one byte per element, times the row's scale.
typedef signed char kv_t;
__device__ __forceinline__ void load_row(const signed char* p, int lane, float* f, float sc) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  if (e0 < D) { const unsigned int u = *reinterpret_cast<const unsigned int*>(p + e0);
#pragma unroll
    for (int e = 0; e < 4; ++e) f[e] = kv_int8_lane(u, e) * sc; }
  else { f[0] = f[1] = f[2] = f[3] = 0.f; }
#elif EPL == 8 && (D % 8 == 0)
  if (e0 < D) { const uint2 u = *reinterpret_cast<const uint2*>(p + e0);
#pragma unroll
    for (int e = 0; e < 4; ++e) { f[e] = kv_int8_lane(u.x, e) * sc; f[4 + e] = kv_int8_lane(u.y, e) * sc; } }
  else { for (int e = 0; e < 8; ++e) f[e] = 0.f; }
#elif EPL == 2 && (D % 2 == 0)
  if (e0 < D) { const unsigned int u = *reinterpret_cast<const unsigned short*>(p + e0); f[0] = kv_int8_lane(u, 0) * sc; f[1] = kv_int8_lane(u, 1) * sc; }
  else { f[0] = f[1] = 0.f; }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e) f[e] = e0 + e < D ? (float)p[e0 + e] * sc : 0.f;
#endif
}
#elif KV_FP8
// fp8-e4m3 codes (kv_fp8.cuh), one byte per element.
typedef unsigned char kv_t;
__device__ __forceinline__ void load_row(const unsigned char* p, int lane, float* f, float) {
  const int e0 = lane * EPL;
#if EPL == 4 && (D % 4 == 0)
  if (e0 < D) { const unsigned int u = *reinterpret_cast<const unsigned int*>(p + e0);
#pragma unroll
    for (int e = 0; e < 4; ++e) f[e] = kv_fp8_to_f32((u >> (8 * e)) & 0xffu); }
  else { f[0] = f[1] = f[2] = f[3] = 0.f; }
#elif EPL == 8 && (D % 8 == 0)
  if (e0 < D) { const uint2 u = *reinterpret_cast<const uint2*>(p + e0);
#pragma unroll
    for (int e = 0; e < 4; ++e) { f[e] = kv_fp8_to_f32((u.x >> (8 * e)) & 0xffu); f[4 + e] = kv_fp8_to_f32((u.y >> (8 * e)) & 0xffu); } }
  else { for (int e = 0; e < 8; ++e) f[e] = 0.f; }
#elif EPL == 2 && (D % 2 == 0)
  if (e0 < D) { const unsigned int u = *reinterpret_cast<const unsigned short*>(p + e0); f[0] = kv_fp8_to_f32(u & 0xffu); f[1] = kv_fp8_to_f32(u >> 8); }
  else { f[0] = f[1] = 0.f; }
#else
#pragma unroll
  for (int e = 0; e < EPL; ++e) f[e] = e0 + e < D ? kv_fp8_to_f32(p[e0 + e]) : 0.f;
#endif
}
#else
typedef bf16_t kv_t;
__device__ __forceinline__ void load_row(const bf16_t* p, int lane, float* f, float) {
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

// Where row (slot, kvh) of a layer's cache starts (elements of kv_t), and its scale (1 for the unscaled
// formats, which load nothing). int8 keeps each block's scales after its codes (kv_int8.cuh), so its rows are
// found by block and offset; the other formats are [slots][KVH][D].
__device__ __forceinline__ long long kv_row_off(long long slot, int block_size, int KVH, int kvh) {
#if KV_INT8
  const long long b = slot / block_size;
  return kv_int8_row_at(b, (int)(slot - b * block_size), block_size, KVH, kvh, D);
#else
  return (slot * KVH + kvh) * D;
#endif
}
__device__ __forceinline__ float kv_row_scale(const kv_t* c, long long slot, int block_size, int KVH, int kvh) {
#if KV_INT8
  const long long b = slot / block_size;
  return *reinterpret_cast<const float*>(reinterpret_cast<const char*>(c) +
                                         kv_int8_scale_at(b, (int)(slot - b * block_size), block_size, KVH, kvh, D));
#else
  return 1.f;
#endif
}

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

// A value rounded as the cache stores it: what a token attends to at its own position, as later steps will.
__device__ __forceinline__ float kv_round(float f) {
#if KV_F32
  return f;
#elif KV_FP8
  return kv_fp8_to_f32(kv_f32_to_fp8(f));
#elif KV_INT8
  return f;  // unused: int8 rounds a whole row with its scale where decode_attention_rope writes it
#else
  return bf16_to_f32(f32_to_bf16(f));
#endif
}

// A lane's elements of a cached row as loaded (f32 words, bf16 pairs, fp8 or int8 quads), converted to f32 by raw_to_f32
// later: a kernel that loads its first keys before its PDL wait converts them after it, since a conversion
// waits for its load and would put the memory round trip before the wait instead of beside what follows it.
#if KV_F32
#define KV_WORDS EPL
#elif KV_FP8 || KV_INT8
#define KV_WORDS ((EPL + 3) / 4)
#else
#define KV_WORDS ((EPL + 1) / 2)
#endif
struct KvRaw {
  unsigned int w[KV_WORDS];
#if KV_INT8
  float sc;  // the row's scale
#endif
};
__device__ __forceinline__ void load_row_raw(const kv_t* p, int lane, KvRaw& r) {
  const int e0 = lane * EPL;
#if KV_F32 && EPL == 4 && (D % 4 == 0)
  if (e0 < D) { const uint4 u = *reinterpret_cast<const uint4*>(p + e0); r.w[0] = u.x; r.w[1] = u.y; r.w[2] = u.z; r.w[3] = u.w; }
  else { r.w[0] = r.w[1] = r.w[2] = r.w[3] = 0u; }
#elif KV_F32
#pragma unroll
  for (int e = 0; e < EPL; ++e) r.w[e] = e0 + e < D ? __float_as_uint(p[e0 + e]) : 0u;
#elif (KV_FP8 || KV_INT8) && EPL == 4 && (D % 4 == 0)
  r.w[0] = e0 < D ? *reinterpret_cast<const unsigned int*>(p + e0) : 0u;
#elif (KV_FP8 || KV_INT8) && EPL == 8 && (D % 8 == 0)
  if (e0 < D) { const uint2 u = *reinterpret_cast<const uint2*>(p + e0); r.w[0] = u.x; r.w[1] = u.y; }
  else { r.w[0] = r.w[1] = 0u; }
#elif (KV_FP8 || KV_INT8) && EPL == 2 && (D % 2 == 0)
  r.w[0] = e0 < D ? (unsigned int)*reinterpret_cast<const unsigned short*>(p + e0) : 0u;
#elif KV_FP8 || KV_INT8
#pragma unroll
  for (int i = 0; i < KV_WORDS; ++i) r.w[i] = 0u;
#pragma unroll
  for (int e = 0; e < EPL; ++e)
    if (e0 + e < D) r.w[e / 4] |= (unsigned int)(unsigned char)p[e0 + e] << (8 * (e & 3));
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
#elif KV_FP8
    f[e] = kv_fp8_to_f32((r.w[e / 4] >> (8 * (e & 3))) & 0xffu);
#elif KV_INT8
    f[e] = kv_int8_lane(r.w[e / 4], e & 3) * r.sc;
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
#if KV_INT8
      const long long b = table[j / block_size];
      const int o = j % block_size;
      const long long row = kv_int8_row_at(b, o, block_size, KVH, kvh, D), sat = kv_int8_scale_at(b, o, block_size, KVH, kvh, D);
      load_row_raw(kc + row, lane, kr[u]);
      load_row_raw(vc + row, lane, vr[u]);
      kr[u].sc = *reinterpret_cast<const float*>(reinterpret_cast<const char*>(kc) + sat);
      vr[u].sc = *reinterpret_cast<const float*>(reinterpret_cast<const char*>(vc) + sat);
#else
      const long long slot = (long long)table[j / block_size] * block_size + j % block_size;
      load_row_raw(kc + (slot * KVH + kvh) * D, lane, kr[u]);
      load_row_raw(vc + (slot * KVH + kvh) * D, lane, vr[u]);
#endif
    } else {
#pragma unroll
      for (int i = 0; i < KV_WORDS; ++i) kr[u].w[i] = vr[u].w[i] = 0u;
#if KV_INT8
      kr[u].sc = vr[u].sc = 0.f;
#endif
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

