
#define BM 64
#define BN 64
#define CPR (D / 8)                 // 16-byte chunks per row
#define SW (CPR < 8 ? CPR : 8)
#define NT (BN / 8)                 // n-tiles of S per warp
#define DT (D / 8)                  // n-tiles of O per warp

__device__ __forceinline__ unsigned smem_u32(const void* p) {
  unsigned r;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(r) : "l"(p));
  return r;
}
__device__ __forceinline__ unsigned swz(int row, int chunk) {  // byte offset of (row, chunk) in a tile
  return (unsigned)(row * (D * 2) + ((chunk ^ (row & (SW - 1))) << 4));
}
__device__ __forceinline__ void cp_async16(unsigned dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void ldsm_x4(unsigned a, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(a));
}
__device__ __forceinline__ void ldsm_x4_t(unsigned a, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(a));
}
__device__ __forceinline__ void mma16816(float* c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
  return (unsigned)f32_to_bf16(lo) | ((unsigned)f32_to_bf16(hi) << 16);
}
#if KV_FP8
// fp8-e4m3 cache (kv_fp8.cuh): 8 codes widened to 8 bf16 (exact: every E4M3 value is a bf16) with a plain
// load and shared-memory store in place of cp.async.
typedef unsigned char kv_code_t;
__device__ __forceinline__ unsigned fp8_pair_to_bf16(unsigned w, int i) {
  return (__float_as_uint(kv_fp8_to_f32((w >> (8 * i)) & 0xffu)) >> 16) |
         (__float_as_uint(kv_fp8_to_f32((w >> (8 * i + 8)) & 0xffu)) & 0xffff0000u);
}
__device__ __forceinline__ uint4 fp8x8_to_bf16x8(uint2 u) {
  return make_uint4(fp8_pair_to_bf16(u.x, 0), fp8_pair_to_bf16(u.x, 2), fp8_pair_to_bf16(u.y, 0), fp8_pair_to_bf16(u.y, 2));
}
#elif KV_INT8
// int8 cache (kv_int8.cuh): 8 codes times the row's scale, rounded to bf16 as the tensor cores take them (the
// one rounding a bf16 cache would add), with a plain load and shared-memory store in place of cp.async.
typedef signed char kv_code_t;
__device__ __forceinline__ unsigned int8_pair_to_bf16(unsigned w, int i, float sc) {
  return pack_bf16(kv_int8_lane(w, i) * sc, kv_int8_lane(w, i + 1) * sc);
}
__device__ __forceinline__ uint4 int8x8_to_bf16x8(uint2 u, float sc) {
  return make_uint4(int8_pair_to_bf16(u.x, 0, sc), int8_pair_to_bf16(u.x, 2, sc), int8_pair_to_bf16(u.y, 0, sc),
                    int8_pair_to_bf16(u.y, 2, sc));
}
#else
typedef bf16_t kv_code_t;
#endif

extern "C" __global__ void __launch_bounds__(128)
flash_attention(const float* __restrict__ q, long long q_stride, const kv_code_t* __restrict__ kc, const kv_code_t* __restrict__ vc,
                const int* __restrict__ tiles, int num_tiles, const int* __restrict__ positions,
                const int* __restrict__ block_tables, int table_stride, int block_size, int H, int KVH, int window,
                float scale_log2, float* __restrict__ out) {
  pdl_wait();
  pdl_launch_dependents();
  extern __shared__ __align__(128) unsigned char smem[];
  unsigned char* sq = smem;
  unsigned char* sk = smem + BM * D * 2;          // [2][BN][D]
  unsigned char* sv = sk + 2 * BN * D * 2;        // [2][BN][D]
  // Longest tiles (latest positions) first: they bound the kernel's tail.
  const int tile = num_tiles - 1 - blockIdx.x;
  const int h = blockIdx.y, kvh = h / (H / KVH);
  const int t0 = tiles[tile * 3], count = tiles[tile * 3 + 1];
  const int* table = block_tables + (long long)tiles[tile * 3 + 2] * table_stride;
  const int pos0 = positions[t0];
  const int pos_last = pos0 + count - 1;
  const int lo = window > 0 ? max(0, pos0 - window + 1) : 0;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

  // Q tile -> bf16 shared memory (rows past `count` zero).
  for (int i = threadIdx.x; i < BM * CPR; i += 128) {
    const int r = i / CPR, c = i % CPR;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < count) {
      const float4* src = reinterpret_cast<const float4*>(q + (long long)(t0 + r) * q_stride + (long long)h * D + c * 8);
      const float4 a = src[0], b = src[1];
      v.x = pack_bf16(a.x, a.y); v.y = pack_bf16(a.z, a.w); v.z = pack_bf16(b.x, b.y); v.w = pack_bf16(b.z, b.w);
    }
    *reinterpret_cast<uint4*>(sq + swz(r, c)) = v;
  }

  const int num_kt = (pos_last - lo) / BN + 1;
  auto load_kv = [&](int kt, int stage) {
    const int kb = lo + kt * BN;
    const unsigned dk = smem_u32(sk + stage * BN * D * 2), dv = smem_u32(sv + stage * BN * D * 2);
    for (int i = threadIdx.x; i < BN * CPR; i += 128) {
      const int r = i / CPR, c = i % CPR;
      const int p = kb + r;
      const bool ok = p <= pos_last;
      const int pp = ok ? p : pos_last;
#if KV_INT8
      const long long b = table[pp / block_size];
      const int o = pp % block_size;
      const long long off = kv_int8_row_at(b, o, block_size, KVH, kvh, D) + c * 8,
                      sat = kv_int8_scale_at(b, o, block_size, KVH, kvh, D);
      uint4 kw = make_uint4(0, 0, 0, 0), vw = kw;
      if (ok) {
        kw = int8x8_to_bf16x8(*reinterpret_cast<const uint2*>(kc + off), *reinterpret_cast<const float*>(reinterpret_cast<const char*>(kc) + sat));
        vw = int8x8_to_bf16x8(*reinterpret_cast<const uint2*>(vc + off), *reinterpret_cast<const float*>(reinterpret_cast<const char*>(vc) + sat));
      }
      *reinterpret_cast<uint4*>(sk + stage * BN * D * 2 + swz(r, c)) = kw;
      *reinterpret_cast<uint4*>(sv + stage * BN * D * 2 + swz(r, c)) = vw;
      (void)dk; (void)dv;
#else
      const long long slot = (long long)table[pp / block_size] * block_size + pp % block_size;
      const long long off = (slot * KVH + kvh) * D + c * 8;
#endif
#if KV_INT8
#elif KV_FP8
      uint4 kw = make_uint4(0, 0, 0, 0), vw = kw;
      if (ok) {
        kw = fp8x8_to_bf16x8(*reinterpret_cast<const uint2*>(kc + off));
        vw = fp8x8_to_bf16x8(*reinterpret_cast<const uint2*>(vc + off));
      }
      *reinterpret_cast<uint4*>(sk + stage * BN * D * 2 + swz(r, c)) = kw;
      *reinterpret_cast<uint4*>(sv + stage * BN * D * 2 + swz(r, c)) = vw;
      (void)dk; (void)dv;
#else
      cp_async16(dk + swz(r, c), kc + off, ok ? 16 : 0);
      cp_async16(dv + swz(r, c), vc + off, ok ? 16 : 0);
#endif
    }
    asm volatile("cp.async.commit_group;");
  };
  load_kv(0, 0);
  __syncthreads();

  // This warp's 16 query rows as mma A fragments, for every 16-wide slice of D.
  unsigned qa[D / 16][4];
  {
    const int r = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk)
      ldsm_x4(smem_u32(sq) + swz(r, kk * 2 + (lane >> 4)), qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3]);
  }
  // Rows this thread owns: r_a (c0, c1) and r_a + 8 (c2, c3) of the warp's 16.
  const int r_a = warp * 16 + (lane >> 2);
  const int qpos_a = pos0 + r_a, qpos_b = qpos_a + 8;
  const int warp_pos_max = min(pos_last, pos0 + warp * 16 + 15);
  float o[DT][4];
#pragma unroll
  for (int t = 0; t < DT; ++t) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.f;
  float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.f, l_b = 0.f;

  for (int kt = 0; kt < num_kt; ++kt) {
    if (kt + 1 < num_kt) {
      load_kv(kt + 1, (kt + 1) & 1);
      asm volatile("cp.async.wait_group 1;" ::: "memory");
    } else {
      asm volatile("cp.async.wait_group 0;" ::: "memory");
    }
    __syncthreads();
    const int kb = lo + kt * BN;
    if (kb <= warp_pos_max && warp * 16 < count) {
      const unsigned skb = smem_u32(sk + (kt & 1) * BN * D * 2), svb = smem_u32(sv + (kt & 1) * BN * D * 2);
      float s[NT][4];
#pragma unroll
      for (int t = 0; t < NT; ++t) s[t][0] = s[t][1] = s[t][2] = s[t][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
        for (int nn = 0; nn < NT / 2; ++nn) {
          unsigned b0, b1, b2, b3;
          ldsm_x4(skb + swz(nn * 16 + (lane & 7) + (lane >> 4) * 8, kk * 2 + ((lane >> 3) & 1)), b0, b1, b2, b3);
          mma16816(s[2 * nn], qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3], b0, b1);
          mma16816(s[2 * nn + 1], qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3], b2, b3);
        }
      }
      // Mask, scale (log2 domain) and the running row maxima.
      float mx_a = m_a, mx_b = m_b;
#pragma unroll
      for (int t = 0; t < NT; ++t) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int p = kb + t * 8 + (lane & 3) * 2 + e;
          const bool ok_a = p <= qpos_a && (window <= 0 || qpos_a - p < window);
          const bool ok_b = p <= qpos_b && (window <= 0 || qpos_b - p < window);
          s[t][e] = ok_a ? s[t][e] * scale_log2 : -INFINITY;
          s[t][2 + e] = ok_b ? s[t][2 + e] * scale_log2 : -INFINITY;
          mx_a = fmaxf(mx_a, s[t][e]);
          mx_b = fmaxf(mx_b, s[t][2 + e]);
        }
      }
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 1));
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 2));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 1));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 2));
      // A row with no visible key yet keeps max -inf: subtract 0 instead, so exp2 gives 0, not NaN.
      const float base_a = mx_a == -INFINITY ? 0.f : mx_a, base_b = mx_b == -INFINITY ? 0.f : mx_b;
      const float corr_a = exp2f(m_a - base_a), corr_b = exp2f(m_b - base_b);
      m_a = mx_a;
      m_b = mx_b;
      l_a *= corr_a;
      l_b *= corr_b;
#pragma unroll
      for (int t = 0; t < DT; ++t) {
        o[t][0] *= corr_a; o[t][1] *= corr_a; o[t][2] *= corr_b; o[t][3] *= corr_b;
      }
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        s[t][0] = exp2f(s[t][0] - base_a); s[t][1] = exp2f(s[t][1] - base_a);
        s[t][2] = exp2f(s[t][2] - base_b); s[t][3] = exp2f(s[t][3] - base_b);
        l_a += s[t][0] + s[t][1];
        l_b += s[t][2] + s[t][3];
      }
      // O += P V: P's accumulator layout is the A-fragment layout, two n-tiles per 16 keys.
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        const unsigned a0 = pack_bf16(s[2 * kk][0], s[2 * kk][1]), a1 = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
        const unsigned a2 = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), a3 = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
        for (int dd = 0; dd < D / 16; ++dd) {
          unsigned b0, b1, b2, b3;
          ldsm_x4_t(svb + swz(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dd * 2 + (lane >> 4)), b0, b1, b2, b3);
          mma16816(o[2 * dd], a0, a1, a2, a3, b0, b1);
          mma16816(o[2 * dd + 1], a0, a1, a2, a3, b2, b3);
        }
      }
    }
    __syncthreads();  // the stage just read is the one the next iteration's prefetch overwrites
  }

  l_a += __shfl_xor_sync(0xffffffffu, l_a, 1);
  l_a += __shfl_xor_sync(0xffffffffu, l_a, 2);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 1);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 2);
  const float inv_a = l_a > 0.f ? 1.f / l_a : 0.f, inv_b = l_b > 0.f ? 1.f / l_b : 0.f;
  const int col = (lane & 3) * 2;
  if (r_a < count) {
    float* dst = out + (long long)(t0 + r_a) * H * D + (long long)h * D + col;
#pragma unroll
    for (int t = 0; t < DT; ++t) *reinterpret_cast<float2*>(dst + t * 8) = make_float2(o[t][0] * inv_a, o[t][1] * inv_a);
  }
  if (r_a + 8 < count) {
    float* dst = out + (long long)(t0 + r_a + 8) * H * D + (long long)h * D + col;
#pragma unroll
    for (int t = 0; t < DT; ++t) *reinterpret_cast<float2*>(dst + t * 8) = make_float2(o[t][2] * inv_b, o[t][3] * inv_b);
  }
}
