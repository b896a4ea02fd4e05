// Tensor-core product of a weight-format matrix in the tensor-core layout (quant_mma_layout.h) with up to 64
// rows of x: y[t, row] (+)= sum_i x[t, i] W[row, i], x already in f16 by quant_mma_x.cu. The weights stream from HBM once (16-byte words, L1 bypassed), are decoded in registers
//    (quant_mma_decode.cuh) into the A operand of mma.m16n8k16 (16 rows x 16 k, f16, f32 accumulation);
//    x is the B operand, NT tiles of 8 tokens. A block takes RT tiles of 16 rows; its WARPS warps split k
//    (warp w takes words w, w + WARPS, ...; KU words of every row tile loaded before any is used) and add
//    their sums in shared memory. Group scales (int4, mxfp4) scale each group's partial sums, the row scale
//    (int8, fp8) the total.
// #defines from the generator (quant_gemv_source.cpp): the format's (QFMT, GROUP, ASYM), NT, RT, WARPS, KU.

__device__ __forceinline__ void qm_mma(float* c, unsigned int a0, unsigned int a1, unsigned int a2, unsigned int a3,
                                       unsigned int b0, unsigned int b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint2 qm_load_u2(const void* p) {
  uint2 r;
  asm volatile("ld.global.nc.v2.u32 {%0,%1}, [%2];" : "=r"(r.x), "=r"(r.y) : "l"(p));
  return r;
}

// The KU words (and their group scales: raw f16 bits or E8M0, int4's zero point << 16) of each of the warp's
// RT row tiles from word kb0 on (words kb0, kb0 + kstride, ...; zeros from kend and past the matrix; kw
// words a row).
struct QmWords {
  uint4 w[KU][RT][2];
  unsigned int gs[KU][RT][2][QM_GROUPS_PER_WORD];
};
__device__ __forceinline__ void qm_load_words(QmWords& d, const uint4* __restrict__ codes, const void* __restrict__ scales,
                                              const unsigned char* __restrict__ zeros, int kb0, int kstride, int kend,
                                              int kw, int tile0, int n_tiles, int lane) {
  const int g = lane >> 2;
  (void)scales;
  (void)zeros;
  (void)g;
QM_UNROLL
  for (int u = 0; u < KU; ++u) {
    const int kb = kb0 + u * kstride;
QM_UNROLL
    for (int r = 0; r < RT; ++r) {
      const int tile = tile0 + r;
      if (kb < kend && tile < n_tiles) {
        const uint4* p = codes + ((size_t)tile * kw + kb) * 64 + lane;
        d.w[u][r][0] = load_stream_u4(p);
        d.w[u][r][1] = load_stream_u4(p + 32);
#if QFMT == 1 || QFMT == 4
QM_UNROLL
        for (int h = 0; h < 2; ++h)
QM_UNROLL
          for (int gi = 0; gi < QM_GROUPS_PER_WORD; ++gi) {
            const size_t si = (((size_t)tile * kw + kb) * QM_GROUPS_PER_WORD + gi) * 16 + g + 8 * h;
#if QFMT == 1
            unsigned int v = __ldg(reinterpret_cast<const unsigned short*>(scales) + si);
#if ASYM
            v |= (unsigned int)__ldg(zeros + si) << 16;
#endif
#else
            unsigned int v = __ldg(reinterpret_cast<const unsigned char*>(scales) + si);
#endif
            d.gs[u][r][h][gi] = v;
          }
#endif
      } else {
        d.w[u][r][0].x = d.w[u][r][0].y = d.w[u][r][0].z = d.w[u][r][0].w = 0u;
        d.w[u][r][1] = d.w[u][r][0];
QM_UNROLL
        for (int h = 0; h < 2; ++h)
QM_UNROLL
          for (int gi = 0; gi < QM_GROUPS_PER_WORD; ++gi) d.gs[u][r][h][gi] = 0u;
      }
    }
  }
}

// One round of a warp: the KU words of `cur` (from word kb0, every kstride-th, up to kend) times x into acc.
// x: the pre-pass's f16 layout (xh), or with FUSEX x itself (xrow: the lane's token row, xscale its scale).
#ifdef FUSEX
#define XPARAMS const float* __restrict__ xrow, float xscale, int k
#define XARGS xrow, xscale, k
#else
#define XPARAMS const unsigned short* __restrict__ xh
#define XARGS xh
#endif
__device__ __forceinline__ void qm_round(float (&acc)[RT][NT][4], const QmWords& cur, int kb0, int kstride, int kend, int m,
                                         int lane, int kx64, XPARAMS) {
  const uint4 (&wv)[KU][RT][2] = cur.w;
  const unsigned int (&gs)[KU][RT][2][QM_GROUPS_PER_WORD] = cur.gs;
  const int g = lane >> 2;
  (void)kx64;
QM_UNROLL
    for (int u = 0; u < KU; ++u) {
      const int kb = kb0 + u * kstride;
      if (kb >= kend) break;
QM_UNROLL
      for (int gi = 0; gi < QM_GROUPS_PER_WORD; ++gi) {
        float part[RT][NT][4];
QM_UNROLL
        for (int r = 0; r < RT; ++r)
QM_UNROLL
          for (int j = 0; j < NT; ++j) part[r][j][0] = part[r][j][1] = part[r][j][2] = part[r][j][3] = 0.f;
QM_UNROLL
        for (int ss = 0; ss < QM_GROUP_STEPS; ++ss) {
          const int s = gi * QM_GROUP_STEPS + ss;
          // This step's 16 k of x: 64-k block kb * QM_WORD_K / 64 + s / 4, step s % 4 in it.
          // (Token columns past m are zeros, never read: the pre-pass writes only the m tokens.)
          uint2 xb[NT];
#ifdef FUSEX
          {
            const int e = kb * QM_WORD_K + 16 * s + 4 * (lane & 3);  // k of this lane's 4 elements (slot order)
            xb[0].x = xb[0].y = 0u;
            if (g < m && e < k) {
              const float4 v = *reinterpret_cast<const float4*>(xrow + e);
              xb[0].x = qm_f16x2(v.x * xscale, v.y * xscale);
              xb[0].y = qm_f16x2(v.z * xscale, v.w * xscale);
            }
          }
#else
QM_UNROLL
          for (int j = 0; j < NT; ++j) {
            xb[j].x = xb[j].y = 0u;
            if (j * 8 + g < m)
              xb[j] = qm_load_u2(xh + (((size_t)j * kx64 + kb * (QM_WORD_K / 64) + (s >> 2)) * 32 + lane) * 16 + 4 * (s & 3));
          }
#endif
QM_UNROLL
          for (int r = 0; r < RT; ++r) {
#if QFMT == 1
#if ASYM
            const unsigned int z0 = 0x6400u + (gs[u][r][0][gi] >> 16), z1 = 0x6400u + (gs[u][r][1][gi] >> 16);
            const unsigned int zc0 = z0 | (z0 << 16), zc1 = z1 | (z1 << 16);
#else
            const unsigned int zc0 = 0x64086408u, zc1 = 0x64086408u;
#endif
#else
            const unsigned int zc0 = 0u, zc1 = 0u;
#endif
            unsigned int lo0, hi0, lo1, hi1;
            qm_decode(&wv[u][r][0].x, s, zc0, lo0, hi0);
            qm_decode(&wv[u][r][1].x, s, zc1, lo1, hi1);
QM_UNROLL
            for (int j = 0; j < NT; ++j) qm_mma(part[r][j], lo0, lo1, hi0, hi1, xb[j].x, xb[j].y);
          }
        }
QM_UNROLL
        for (int r = 0; r < RT; ++r) {
#if QFMT == 1
          const float d0 = qm_half_to_float((unsigned short)gs[u][r][0][gi]), d1 = qm_half_to_float((unsigned short)gs[u][r][1][gi]);
#elif QFMT == 4
          const unsigned int x0 = gs[u][r][0][gi], x1 = gs[u][r][1][gi];
          const float d0 = x0 == 0 ? __uint_as_float(0x00400000u) : __uint_as_float(x0 << 23);
          const float d1 = x1 == 0 ? __uint_as_float(0x00400000u) : __uint_as_float(x1 << 23);
#else
          const float d0 = 1.f, d1 = 1.f;
#endif
QM_UNROLL
          for (int j = 0; j < NT; ++j) {
            acc[r][j][0] += d0 * part[r][j][0];
            acc[r][j][1] += d0 * part[r][j][1];
            acc[r][j][2] += d1 * part[r][j][2];
            acc[r][j][3] += d1 * part[r][j][3];
          }
        }
      }
    }
}

#ifndef QM_ROWS
// codes: [n_tiles][kw][2][32] 16-byte words; scales: int4 f16 [n_tiles][groups][16], mxfp4 u8 E8M0 likewise,
// int8/fp8 f32 [n_tiles * 16]; zeros (int4 asymmetric) u8 [n_tiles][groups][16]. kw: words per row (k_pad /
// QM_WORD_K). xh / xs from quant_mma_x for the m tokens (in tiles of 8). The words of the warp's next round
// are loaded before this round's are used (two rounds in registers).
// With FUSEX (NT == 1, small m * k): xin is x itself (f32 [m, k]) and there is no pre-pass: every block
// finds each token's max |x| (the whole x, from L2, while its first weights are in flight) and converts the
// x of each step in registers.
extern "C" __global__ void __launch_bounds__(WARPS * 32)
quant_mma(const void* __restrict__ xin, const float* __restrict__ xs, const uint4* __restrict__ codes,
          const void* __restrict__ scales, const unsigned char* __restrict__ zeros, float* __restrict__ y, int m, int n,
          int k, int kw, int accumulate) {
  __shared__ float red[RT * 16][NT * 8 + 1];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2;
  const int tile0 = blockIdx.x * RT, n_tiles = (n + 15) >> 4;
  for (int i = threadIdx.x; i < RT * 16 * (NT * 8 + 1); i += blockDim.x) (&red[0][0])[i] = 0.f;
  float acc[RT][NT][4];
QM_UNROLL
  for (int r = 0; r < RT; ++r)
QM_UNROLL
    for (int j = 0; j < NT; ++j) acc[r][j][0] = acc[r][j][1] = acc[r][j][2] = acc[r][j][3] = 0.f;
  const int kx64 = kw * (QM_WORD_K / 64);  // 64-k blocks of a token's x
  (void)kx64;
  (void)xs;
  // The weights are constant: the first round is loaded before waiting for the kernel before (x comes from it).
  QmWords cur;
  qm_load_words(cur, codes, scales, zeros, warp, WARPS, kw, kw, tile0, n_tiles, lane);
  pdl_wait();
  pdl_launch_dependents();
#ifdef FUSEX
  __shared__ float s_max[WARPS][8];
  __shared__ float s_scale[8], s_inv[8];
  const float* xf = reinterpret_cast<const float*>(xin);
  {
    float mx[8];
QM_UNROLL
    for (int t = 0; t < 8; ++t) mx[t] = 0.f;
    for (int i = 4 * threadIdx.x; i < m * k; i += 4 * WARPS * 32) {
      const float4 v = *reinterpret_cast<const float4*>(xf + i);
      const float a = fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
      const int t = i / k;
QM_UNROLL
      for (int tt = 0; tt < 8; ++tt)
        if (tt == t) mx[tt] = fmaxf(mx[tt], a);
    }
QM_UNROLL
    for (int t = 0; t < 8; ++t) {
      const float v = warp_max(mx[t]);
      if (lane == 0) s_max[warp][t] = v;
    }
    __syncthreads();
    if (threadIdx.x < 8) {
      float v = 0.f;
      for (int w = 0; w < WARPS; ++w) v = fmaxf(v, s_max[w][threadIdx.x]);
      // 2^sh with max |x| 2^sh in [2^14, 2^15), as quant_mma_x.cu.
      int sh = 0;
      const unsigned int e = (__float_as_uint(v) >> 23) & 0xffu;
      if (v > 0.f && e != 0xffu) {
        sh = 14 - ((int)e - 127);
        sh = sh < -126 ? -126 : (sh > 126 ? 126 : sh);
      }
      s_scale[threadIdx.x] = __uint_as_float((unsigned int)(sh + 127) << 23);
      s_inv[threadIdx.x] = __uint_as_float((unsigned int)(127 - sh) << 23);
    }
    __syncthreads();
  }
  const float xscale = s_scale[g];
  const float* xrow = xf + (size_t)(g < m ? g : 0) * k;
#else
  const unsigned short* xh = reinterpret_cast<const unsigned short*>(xin);
#endif
  for (int kb0 = warp; kb0 < kw; kb0 += WARPS * KU) {
    QmWords next;
    qm_load_words(next, codes, scales, zeros, kb0 + WARPS * KU, WARPS, kw, kw, tile0, n_tiles, lane);
    qm_round(acc, cur, kb0, WARPS, kw, m, lane, kx64, XARGS);
    cur = next;
  }
  // C fragment: c0, c1 row g, tokens 2q, 2q + 1; c2, c3 row g + 8.
  __syncthreads();  // red zeroed by every thread before any adds
  const int q = lane & 3;
QM_UNROLL
  for (int r = 0; r < RT; ++r)
QM_UNROLL
    for (int j = 0; j < NT; ++j)
QM_UNROLL
      for (int c = 0; c < 4; ++c) atomicAdd(&red[r * 16 + g + 8 * (c >> 1)][j * 8 + 2 * q + (c & 1)], acc[r][j][c]);
  __syncthreads();
  for (int i = threadIdx.x; i < RT * 16 * NT * 8; i += blockDim.x) {
    const int t = i / (RT * 16), rl = i - t * (RT * 16), row = tile0 * 16 + rl;
    if (t >= m || row >= n) continue;
#ifdef FUSEX
    float v = red[rl][t] * (s_inv[t] * QM_OUT_SCALE);
#else
    float v = red[rl][t] * (xs[t] * QM_OUT_SCALE);
#endif
#if QFMT == 2 || QFMT == 3
    v *= __ldg(reinterpret_cast<const float*>(scales) + row);
#endif
    float* out = y + (size_t)t * n + row;
    *out = accumulate ? *out + v : v;
  }
}
#endif  // !QM_ROWS

#ifdef QM_ROWS
// Row mode (more than 8 tokens, the pre-pass's x): warp w of block (bx, kz) takes row tiles (bx * WARPS + w) *
// RT .. + RT and the words of k slice kz (of gridDim.y), so the block's warps read the same x at about the same
// time (L1 serves the other warps: x of 32 tokens is 8 KB a word, not per row tile from L2 as in split-K). Each
// thread adds its C fragments into y itself: stored (one slice), or atomically added (several slices: y is
// zeroed by the pre-pass unless accumulating).
extern "C" __global__ void __launch_bounds__(WARPS * 32)
quant_mma_rows(const void* __restrict__ xin, const float* __restrict__ xs, const uint4* __restrict__ codes,
               const void* __restrict__ scales, const unsigned char* __restrict__ zeros, float* __restrict__ y, int m,
               int n, int k, int kw, int accumulate) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
  const int tile0 = (blockIdx.x * WARPS + warp) * RT, n_tiles = (n + 15) >> 4;
  const int per = (kw + (int)gridDim.y - 1) / (int)gridDim.y;
  const int kbeg = (int)blockIdx.y * per, kend = min(kw, kbeg + per);
  const int kx64 = kw * (QM_WORD_K / 64);
  (void)k;
  float acc[RT][NT][4];
QM_UNROLL
  for (int r = 0; r < RT; ++r)
QM_UNROLL
    for (int j = 0; j < NT; ++j) acc[r][j][0] = acc[r][j][1] = acc[r][j][2] = acc[r][j][3] = 0.f;
  QmWords cur;
  qm_load_words(cur, codes, scales, zeros, kbeg, 1, kend, kw, tile0, n_tiles, lane);
  pdl_wait();
  pdl_launch_dependents();
  const unsigned short* xh = reinterpret_cast<const unsigned short*>(xin);
  for (int kb0 = kbeg; kb0 < kend; kb0 += KU) {
    QmWords next;
    qm_load_words(next, codes, scales, zeros, kb0 + KU, 1, kend, kw, tile0, n_tiles, lane);
    qm_round(acc, cur, kb0, 1, kend, m, lane, kx64, xh);
    cur = next;
  }
  const bool atomic = gridDim.y > 1;
QM_UNROLL
  for (int r = 0; r < RT; ++r)
QM_UNROLL
    for (int j = 0; j < NT; ++j)
QM_UNROLL
      for (int c = 0; c < 4; ++c) {
        const int row = (tile0 + r) * 16 + g + 8 * (c >> 1), t = j * 8 + 2 * q + (c & 1);
        if (row >= n || t >= m) continue;
        float v = acc[r][j][c] * (xs[t] * QM_OUT_SCALE);
#if QFMT == 2 || QFMT == 3
        v *= __ldg(reinterpret_cast<const float*>(scales) + row);
#endif
        float* out = y + (size_t)t * n + row;
        if (atomic) atomicAdd(out, v);
        else *out = accumulate ? *out + v : v;
      }
}
#endif  // QM_ROWS
