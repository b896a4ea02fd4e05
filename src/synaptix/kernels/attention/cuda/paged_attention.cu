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
// sc: the row's scale (int8; the other formats ignore it).
__device__ __forceinline__ void load8(const kv_t* p, float* f, float sc) {
#if KV_F32
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
#elif KV_FP8
  const uint2 u = *reinterpret_cast<const uint2*>(p);
#pragma unroll
  for (int e = 0; e < 4; ++e) { f[e] = kv_fp8_to_f32((u.x >> (8 * e)) & 0xffu); f[4 + e] = kv_fp8_to_f32((u.y >> (8 * e)) & 0xffu); }
#elif KV_INT8
  const uint2 u = *reinterpret_cast<const uint2*>(p);
#pragma unroll
  for (int e = 0; e < 4; ++e) { f[e] = kv_int8_lane(u.x, e) * sc; f[4 + e] = kv_int8_lane(u.y, e) * sc; }
#else
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  f[0] = bf16_lo(u.x); f[1] = bf16_hi(u.x); f[2] = bf16_lo(u.y); f[3] = bf16_hi(u.y);
  f[4] = bf16_lo(u.z); f[5] = bf16_hi(u.z); f[6] = bf16_lo(u.w); f[7] = bf16_hi(u.w);
#endif
}
__device__ __forceinline__ float kv_at(const kv_t* p, int i, float sc) {
#if KV_F32
  return p[i];
#elif KV_FP8
  return kv_fp8_to_f32(p[i]);
#elif KV_INT8
  return (float)p[i] * sc;
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
      const kv_t* kp = kc + kv_row_off(slot, block_size, KVH, kvh);
      const float ksc = kv_row_scale(kc, slot, block_size, KVH, kvh);
#if D % 8 == 0
      for (int e = 0; e < D; e += 8) {
        float kf[8];
        load8(kp + e, kf, ksc);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float4 qa = *reinterpret_cast<const float4*>(qs + g * D + e), qb = *reinterpret_cast<const float4*>(qs + g * D + e + 4);
          s[g] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
        }
      }
#else
      for (int e = 0; e < D; ++e) {
        const float kf = kv_at(kp, e, ksc);
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
      load_row(vc + kv_row_off(sj, block_size, KVH, kvh), lane, vf, kv_row_scale(vc, sj, block_size, KVH, kvh));
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
