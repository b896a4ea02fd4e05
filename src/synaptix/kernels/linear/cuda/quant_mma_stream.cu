// Stream form of the tensor-core product (quant_mma.cu), the default for decode steps of 1..8 rows of x (it takes
// up to 64): y[t, row] (+)= sum_i x[t, i] W[row, i],
// W in the tensor-core layout (quant_mma_layout.h), decoded in registers by quant_mma_decode.cuh into mma.m16n8k16.
// Built to keep HBM busy at batch 1, where the product is a pure weight stream:
//  - Bytes in flight without registers: each warp streams its words through its own shared-memory ring of
//    STAGES stages of QU words (cp.async, 1 KB a word), STAGES - 1 stages ahead of its mma, so 8 warps with 4
//    stages of 2 words keep 48 KB in flight a block. A lane reads back only the 16-byte words it copied itself
//    (no barrier); the group scales of a stage are shared by the warp (one __syncwarp).
//  - Weights before the wait: the first STAGES - 1 stages are issued before pdl_wait(), overlapping the kernel
//    before (the weights are constant).
//  - One wave, balanced to the word: the launcher sizes the grid to the blocks resident on the device; block
//    (bx, sy) takes row tiles [bx n_tiles / gx, (bx + 1) n_tiles / gx) and words [sy per, (sy + 1) per) of k
//    (split-K over blockIdx.y, per = ceil(kw / gridDim.y)), and its warps split the block's (tile, word) items
//    in contiguous ranges, so every warp streams the same number of words whatever the shape. A warp's range
//    crosses tiles: a finished tile's C fragment is added into the block's shared accumulator (atomically: two
//    warps may share a tile), which the block writes at the end: stored or added into y (one k slice), or
//    atomically added into y (several slices; the launcher zeroes y first unless accumulating).
//  - x once per block: the block converts its k slice of x to f16 in shared memory, each token scaled by a
//    power of two that puts the slice's max |x| in [2^14, 2^15) (f16 cannot overflow, small rows keep their
//    bits), undone with the block's output. With XPRE the pre-pass (quant_mma_x.cu, row-major) converted x once
//    for all blocks (many rows: half the bytes each block reads from L2, no max pass) and the block copies its
//    slice.
//  - Fusions of a quantized decode step (what the bf16 GEMV's prologues and epilogues do): QS_NORM, x is the
//    residual and the product reads rmsnorm(x) = x * rsqrt(mean(x^2) + eps) * gamma (each block sums the squares
//    of every k of its tokens); QS_GLU (1 SwiGLU, 2 GeGLU tanh), W's rows are gate|up interleaved and the block
//    writes act(gate) * up into glu_out [M, n / 2] instead of y (one k slice only).
// #defines from the generator (quant_gemv_source.cpp): the format's (QFMT, GROUP, ASYM), M (rows of x), WARPS,
// STAGES (>= 2), QU (words a stage), XCAP (f16 elements of x per token the block holds: k slice <= XCAP), YT
// (row tiles a block may own), XBF16 (x is bf16, else f32), XPRE, QS_NORM, QS_GLU.
#ifndef QS_NORM
#define QS_NORM 0
#endif
#ifndef QS_GLU
#define QS_GLU 0
#endif

#if QFMT == 1
#define QS_SBYTES (QM_GROUPS_PER_WORD * 32)  // f16 d of one word: [groups][16 rows]
#define QS_ZBYTES (ASYM ? QM_GROUPS_PER_WORD * 16 : 0)
#elif QFMT == 4
#define QS_SBYTES (QM_GROUPS_PER_WORD * 16)  // E8M0
#define QS_ZBYTES 0
#else
#define QS_SBYTES 0  // per-channel: the f32 row scale is applied at the end
#define QS_ZBYTES 0
#endif
#define QS_SV (QS_SBYTES / 16)  // 16-byte units a word's scales take
#define QS_ZV (QS_ZBYTES / 16)
#define QS_XSTRIDE (XCAP + 16)  // f16 per token row of x: 32 bytes of padding spread the tokens over the banks
#define QS_XREG 4               // float4 of x a thread keeps per token (up to 2 tokens) between its two passes

#ifndef QS_KERNEL  // the host emulation (tests/kernels/quant_mma_stream_emulation_test.cpp) brings its own
#define QS_KERNEL extern "C" __global__ void __launch_bounds__(WARPS * 32)
#define QS_DYNAMIC_SMEM(name) extern __shared__ __align__(16) uint4 name[]
#endif

#ifdef __CUDA_ARCH__  // the host emulation defines these warp-level forms itself
__device__ __forceinline__ unsigned qs_smem_addr(const void* p) { return static_cast<unsigned>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void qs_cp16(void* dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(qs_smem_addr(dst)), "l"(src) : "memory");
}
__device__ __forceinline__ void qs_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void qs_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}
__device__ __forceinline__ void qs_mma(float* c, unsigned int a0, unsigned int a1, unsigned int a2, unsigned int a3,
                                       unsigned int b0, unsigned int b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
#endif

__device__ __forceinline__ float4 qs_load_x4(const void* xin, size_t i) {
#ifdef XBF16
  const uint2 v = *reinterpret_cast<const uint2*>(reinterpret_cast<const bf16_t*>(xin) + i);
  return make_float4(bf16_lo(v.x), bf16_hi(v.x), bf16_lo(v.y), bf16_hi(v.y));
#else
  return *reinterpret_cast<const float4*>(reinterpret_cast<const float*>(xin) + i);
#endif
}

// The product's input at token t, k e..e+3: x, or with QS_NORM rmsnorm(x) rounded as the RMSNorm kernel rounds
// ((x * inv) * gamma).
__device__ __forceinline__ float4 qs_x_in(const void* xin, const float* __restrict__ gamma, const float* rms, int t, int k, int e) {
  float4 v = qs_load_x4(xin, (size_t)t * k + e);
#if QS_NORM
  const float inv = rms[t];
  const float4 gm = __ldg(reinterpret_cast<const float4*>(gamma + e));
  v.x = v.x * inv * gm.x;
  v.y = v.y * inv * gm.y;
  v.z = v.z * inv * gm.z;
  v.w = v.w * inv * gm.w;
#else
  (void)gamma;
  (void)rms;
#endif
  return v;
}

// A warp's cursor over its (tile, word) items, tile-major: words kbeg..kend-1 of each tile.
struct QsCursor {
  int tile, kb;
  __device__ __forceinline__ void next(int kbeg, int kend) {
    if (++kb == kend) {
      kb = kbeg;
      ++tile;
    }
  }
};

// Issues the copies of one stage (items `first`.. of the warp's range, at most `left` of them) into ring slot
// `slot`, advancing the cursor.
__device__ __forceinline__ void qs_issue(QsCursor& c, int left, int slot, uint4* ring, uint4* sring, uint4* zring,
                                         const uint4* __restrict__ codes, const void* __restrict__ scales,
                                         const unsigned char* __restrict__ zeros, int kw, int kbeg, int kend, int lane) {
  (void)sring;
  (void)zring;
  (void)scales;
  (void)zeros;
QM_UNROLL
  for (int u = 0; u < QU; ++u) {
    if (u >= left) break;
    const size_t word = (size_t)c.tile * kw + c.kb;
    const uint4* src = codes + word * 64 + lane;
    uint4* dst = ring + (slot * QU + u) * 64 + lane;
    qs_cp16(dst, src);
    qs_cp16(dst + 32, src + 32);
#if QS_SV > 0
    for (int v = lane; v < QS_SV; v += 32)
      qs_cp16(sring + (slot * QU + u) * QS_SV + v,
              reinterpret_cast<const uint4*>(reinterpret_cast<const unsigned char*>(scales) + word * QS_SBYTES) + v);
#endif
#if QS_ZV > 0
    for (int v = lane; v < QS_ZV; v += 32)
      qs_cp16(zring + (slot * QU + u) * QS_ZV + v, reinterpret_cast<const uint4*>(zeros + word * QS_ZBYTES) + v);
#endif
    c.next(kbeg, kend);
  }
}

#define QS_NT ((M + 7) / 8)  // token tiles of 8 (mma's n)

// acc (+)= one word of the lane's two rows (w0: row g, w1: row g + 8) times x (xw[j]: the row of token 8j + g in
// the block's f16 x at this word's first k, plus 4q; null past the m tokens); sc / zp: the word's group scales
// and zero points in the ring.
__device__ __forceinline__ void qs_word(float (&acc)[QS_NT][4], const uint4& w0, const uint4& w1, const unsigned short* const (&xw)[QS_NT],
                                        int xoff, const unsigned char* sc, const unsigned char* zp, int g) {
  (void)sc;
  (void)zp;
  (void)g;
QM_UNROLL
  for (int gi = 0; gi < QM_GROUPS_PER_WORD; ++gi) {
    // Two partial sums, even and odd steps: two independent mma chains (the chain's latency, not the bytes in
    // flight, bounded the first H100 run), added with the group's scale.
    float part[2][QS_NT][4];
QM_UNROLL
    for (int h = 0; h < 2; ++h)
QM_UNROLL
      for (int j = 0; j < QS_NT; ++j) part[h][j][0] = part[h][j][1] = part[h][j][2] = part[h][j][3] = 0.f;
#if QFMT == 1
#if ASYM
    const unsigned int z0 = 0x6400u + zp[gi * 16 + g], z1 = 0x6400u + zp[gi * 16 + g + 8];
    const unsigned int zc0 = z0 | (z0 << 16), zc1 = z1 | (z1 << 16);
#else
    const unsigned int zc0 = 0x64086408u, zc1 = 0x64086408u;
#endif
#else
    const unsigned int zc0 = 0u, zc1 = 0u;
#endif
QM_UNROLL
    for (int ss = 0; ss < QM_GROUP_STEPS; ++ss) {
      const int s = gi * QM_GROUP_STEPS + ss;
      unsigned int lo0, hi0, lo1, hi1;
      qm_decode(&w0.x, s, zc0, lo0, hi0);
      qm_decode(&w1.x, s, zc1, lo1, hi1);
QM_UNROLL
      for (int j = 0; j < QS_NT; ++j) {
        uint2 xb = make_uint2(0u, 0u);
        if (xw[j]) xb = *reinterpret_cast<const uint2*>(xw[j] + xoff + 16 * s);
        qs_mma(part[ss & 1][j], lo0, lo1, hi0, hi1, xb.x, xb.y);
      }
    }
#if QFMT == 1
    const unsigned short* d = reinterpret_cast<const unsigned short*>(sc) + gi * 16;
    const float d0 = qm_half_to_float(d[g]), d1 = qm_half_to_float(d[g + 8]);
#elif QFMT == 4
    const unsigned int e0 = sc[gi * 16 + g], e1 = sc[gi * 16 + g + 8];
    const float d0 = e0 == 0 ? __uint_as_float(0x00400000u) : __uint_as_float(e0 << 23);
    const float d1 = e1 == 0 ? __uint_as_float(0x00400000u) : __uint_as_float(e1 << 23);
#else
    const float d0 = 1.f, d1 = 1.f;  // per-channel: the row scale comes at the end
#endif
QM_UNROLL
    for (int j = 0; j < QS_NT; ++j) {
      acc[j][0] += d0 * (part[0][j][0] + part[1][j][0]);
      acc[j][1] += d0 * (part[0][j][1] + part[1][j][1]);
      acc[j][2] += d1 * (part[0][j][2] + part[1][j][2]);
      acc[j][3] += d1 * (part[0][j][3] + part[1][j][3]);
    }
  }
}

// codes: [n_tiles][kw][2][32] 16-byte words; scales: int4 f16 [n_tiles][groups][16], mxfp4 u8 E8M0 likewise,
// int8/fp8 f32 [n_tiles * 16]; zeros (int4 asymmetric) u8 [n_tiles][groups][16]. x: [M, k] f32 (or bf16).
// Dynamic shared memory: the warps' rings (codes, scales, zeros), x [M][QS_XSTRIDE] f16, the accumulator
// [YT * 16][M] f32 (quant_mma_stream_geometry in quant_gemv_source.cpp computes the same total).
QS_KERNEL
quant_mma_stream(const void* __restrict__ xin, const uint4* __restrict__ codes, const void* __restrict__ scales,
                 const unsigned char* __restrict__ zeros, float* __restrict__ y, int n, int k, int kw, int accumulate,
                 const float* __restrict__ gamma, float eps, float* __restrict__ glu_out, const float* __restrict__ x_inv) {
  QS_DYNAMIC_SMEM(qs_buf);
  __shared__ float s_max[WARPS][M];
  __shared__ float s_scale[M], s_inv[M], s_rms[M];
  (void)gamma;
  (void)eps;
  (void)glu_out;
  (void)x_inv;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
  const int n_tiles = (n + 15) >> 4;
  const int splits = (int)gridDim.y;
  const int per = (kw + splits - 1) / splits;
  const int kbeg = (int)blockIdx.y * per, kend = min(kw, kbeg + per), cw = max(kend - kbeg, 0);
  const int t0 = (int)((long long)blockIdx.x * n_tiles / gridDim.x);
  const int t1 = (int)((long long)(blockIdx.x + 1) * n_tiles / gridDim.x);
  const int items = (t1 - t0) * cw;
  const int i0 = (int)((long long)warp * items / WARPS), i1 = (int)((long long)(warp + 1) * items / WARPS);

  uint4* ring = qs_buf + (size_t)warp * STAGES * QU * 64;
  uint4* sring = qs_buf + (size_t)WARPS * STAGES * QU * 64 + (size_t)warp * STAGES * QU * QS_SV;
  uint4* zring = qs_buf + (size_t)WARPS * STAGES * QU * (64 + QS_SV) + (size_t)warp * STAGES * QU * QS_ZV;
  unsigned short* xs = reinterpret_cast<unsigned short*>(qs_buf + (size_t)WARPS * STAGES * QU * (64 + QS_SV + QS_ZV));
  float* yacc = reinterpret_cast<float*>(xs + M * QS_XSTRIDE);

  for (int i = threadIdx.x; i < (t1 - t0) * 16 * M; i += blockDim.x) yacc[i] = 0.f;
  // The weights are constant: the first stages are in flight before waiting for the kernel before.
  const int nst = (i1 - i0 + QU - 1) / QU;
  QsCursor pc{t0 + (cw ? i0 / cw : 0), kbeg + (cw ? i0 % cw : 0)};
  for (int st = 0; st < STAGES - 1; ++st) {
    if (st < nst) qs_issue(pc, i1 - i0 - st * QU, st, ring, sring, zring, codes, scales, zeros, kw, kbeg, kend, lane);
    qs_commit();
  }
  pdl_wait();
  pdl_launch_dependents();

  // x's k slice [kbeg, kend) words to f16, per token scaled by a power of two (2^14 <= max |x| 2^sh < 2^15).
  const int k0 = kbeg * QM_WORD_K, kl = cw * QM_WORD_K;
#ifdef XPRE
  {
    // The pre-pass's f16 rows ([M][kw * QM_WORD_K], scaled per token over the whole row, zeros past k).
    const unsigned short* xh = reinterpret_cast<const unsigned short*>(xin);
    const int kx = kw * QM_WORD_K, chunks = kl / 8;
    for (int i = threadIdx.x; i < M * chunks; i += blockDim.x) {
      const int t = i / chunks, c = i - t * chunks;
      *reinterpret_cast<uint4*>(xs + t * QS_XSTRIDE + 8 * c) = *reinterpret_cast<const uint4*>(xh + (size_t)t * kx + k0 + 8 * c);
    }
    for (int t = threadIdx.x; t < M; t += blockDim.x) s_inv[t] = x_inv[t];
    (void)s_max;
    (void)s_scale;
    (void)s_rms;
    __syncthreads();
  }
#else
  {
#if QS_NORM
    // 1 / rms of each token over its whole row (as the RMSNorm kernel: rsqrt(sum / k + eps)).
    for (int t = 0; t < M; ++t) {
      float ss = 0.f;
      for (int i = 4 * threadIdx.x; i < k; i += 4 * WARPS * 32) {
        const float4 v = qs_load_x4(xin, (size_t)t * k + i);
        ss = fmaf(v.x, v.x, ss);
        ss = fmaf(v.y, v.y, ss);
        ss = fmaf(v.z, v.z, ss);
        ss = fmaf(v.w, v.w, ss);
      }
      ss = warp_sum(ss);
      if (lane == 0) s_max[warp][t] = ss;
    }
    __syncthreads();
    for (int t = threadIdx.x; t < M; t += blockDim.x) {
      float v = 0.f;
      for (int w = 0; w < WARPS; ++w) v += s_max[w][t];
      s_rms[t] = rsqrtf(v / (float)k + eps);
    }
    __syncthreads();
#endif
    // Up to 2 tokens, a thread's first QS_XREG float4 of each stay in registers from the max pass to the
    // conversion (one read of x from L2 instead of two for every slice up to 8192 elements at 512 threads).
    const int xstep = 4 * WARPS * 32;
#if M <= 2
    float4 xr[M][QS_XREG];
#endif
    for (int t = 0; t < M; ++t) {
      float mx = 0.f;
      int i = 4 * threadIdx.x;
#if M <= 2
QM_UNROLL
      for (int u = 0; u < QS_XREG; ++u, i += xstep) {
        const float4 v = i < kl && k0 + i < k ? qs_x_in(xin, gamma, s_rms, t, k, k0 + i) : make_float4(0.f, 0.f, 0.f, 0.f);
        xr[t][u] = v;
        mx = fmaxf(mx, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
      }
#endif
      for (; i < kl && k0 + i < k; i += xstep) {
        const float4 v = qs_x_in(xin, gamma, s_rms, t, k, k0 + i);
        mx = fmaxf(mx, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
      }
      mx = warp_max(mx);
      if (lane == 0) s_max[warp][t] = mx;
    }
    __syncthreads();
    for (int t = threadIdx.x; t < M; t += blockDim.x) {
      float v = 0.f;
      for (int w = 0; w < WARPS; ++w) v = fmaxf(v, s_max[w][t]);
      int sh = 0;
      const unsigned int e = (__float_as_uint(v) >> 23) & 0xffu;
      if (v > 0.f && e != 0xffu) {
        sh = 14 - ((int)e - 127);
        sh = sh < -126 ? -126 : (sh > 126 ? 126 : sh);
      }
      s_scale[t] = __uint_as_float((unsigned int)(sh + 127) << 23);
      s_inv[t] = __uint_as_float((unsigned int)(127 - sh) << 23);
    }
    __syncthreads();
    for (int t = 0; t < M; ++t) {
      const float sc = s_scale[t];
      int i = 4 * threadIdx.x;
#if M <= 2
QM_UNROLL
      for (int u = 0; u < QS_XREG; ++u, i += xstep) {
        if (i < kl) {
          const float4 v = xr[t][u];  // zeros past k
          uint2 o;
          o.x = qm_f16x2(v.x * sc, v.y * sc);
          o.y = qm_f16x2(v.z * sc, v.w * sc);
          *reinterpret_cast<uint2*>(xs + t * QS_XSTRIDE + i) = o;
        }
      }
#endif
      for (; i < kl; i += xstep) {
        const float4 v = k0 + i < k ? qs_x_in(xin, gamma, s_rms, t, k, k0 + i) : make_float4(0.f, 0.f, 0.f, 0.f);
        uint2 o;
        o.x = qm_f16x2(v.x * sc, v.y * sc);
        o.y = qm_f16x2(v.z * sc, v.w * sc);
        *reinterpret_cast<uint2*>(xs + t * QS_XSTRIDE + i) = o;
      }
    }
    __syncthreads();
  }
#endif

  // The warp's stream: wait for stage st, refill the slot the last round read (STAGES - 1 ahead), use stage st.
  const unsigned short* xrow[QS_NT];
  float acc[QS_NT][4];
QM_UNROLL
  for (int j = 0; j < QS_NT; ++j) {
    xrow[j] = 8 * j + g < M ? xs + (8 * j + g) * QS_XSTRIDE + 4 * q : nullptr;
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  }
  QsCursor cc{t0 + (cw ? i0 / cw : 0), kbeg + (cw ? i0 % cw : 0)};
  int cur_tile = cc.tile;
  auto flush = [&](int tile) {
    float* ya = yacc + (size_t)(tile - t0) * 16 * M;
QM_UNROLL
    for (int j = 0; j < QS_NT; ++j)
QM_UNROLL
      for (int c = 0; c < 4; ++c) {
        const int r = g + 8 * (c >> 1), t = 8 * j + 2 * q + (c & 1);
        if (t < M) atomicAdd(ya + r * M + t, acc[j][c]);
        acc[j][c] = 0.f;
      }
  };
  for (int st = 0; st < nst; ++st) {
    qs_wait<STAGES - 2>();
    __syncwarp();  // the stage's scales, copied by other lanes, are visible; last round's reads are done
    const int ahead = st + STAGES - 1;
    if (ahead < nst) qs_issue(pc, i1 - i0 - ahead * QU, ahead % STAGES, ring, sring, zring, codes, scales, zeros, kw, kbeg, kend, lane);
    qs_commit();
    const int slot = st % STAGES;
QM_UNROLL
    for (int u = 0; u < QU; ++u) {
      if (st * QU + u >= i1 - i0) break;
      if (cc.tile != cur_tile) {
        flush(cur_tile);
        cur_tile = cc.tile;
      }
      const uint4 w0 = ring[(slot * QU + u) * 64 + lane], w1 = ring[(slot * QU + u) * 64 + 32 + lane];
      const unsigned char* sc = reinterpret_cast<const unsigned char*>(sring + (slot * QU + u) * QS_SV);
      const unsigned char* zp = reinterpret_cast<const unsigned char*>(zring + (slot * QU + u) * QS_ZV);
      qs_word(acc, w0, w1, xrow, (cc.kb - kbeg) * QM_WORD_K, sc, zp, g);
      cc.next(kbeg, kend);
    }
  }
  if (i1 > i0) flush(cur_tile);
  qs_wait<0>();
  __syncthreads();

  const int rows_b = (t1 - t0) * 16;
#if QS_GLU
  // Gate|up row pairs (2c, 2c + 1) of the block: act(gate) * up, as the swiglu / geglu_tanh kernels compute it.
  const int pairs_b = rows_b / 2, half_n = n / 2;
  for (int i = threadIdx.x; i < pairs_b * M; i += blockDim.x) {
    const int t = i / pairs_b, pl = i - t * pairs_b, row = t0 * 16 + 2 * pl;
    if (row >= n) continue;
    const float xsc = s_inv[t] * QM_OUT_SCALE;
    float gt = yacc[(2 * pl) * M + t] * xsc, up = yacc[(2 * pl + 1) * M + t] * xsc;
#if QFMT == 2 || QFMT == 3
    gt *= __ldg(reinterpret_cast<const float*>(scales) + row);
    up *= __ldg(reinterpret_cast<const float*>(scales) + row + 1);
#endif
#if QS_GLU == 1
    const float v = gt / (1.f + expf(-gt)) * up;
#else
    const float v = 0.5f * gt * (1.f + tanhf(0.7978845608028654f * (gt + 0.044715f * gt * gt * gt))) * up;
#endif
    glu_out[(size_t)t * half_n + (row >> 1)] = v;
  }
#else
  // The block's rows: consecutive threads take consecutive rows of one token (coalesced).
  for (int i = threadIdx.x; i < rows_b * M; i += blockDim.x) {
    const int t = i / rows_b, rl = i - t * rows_b, row = t0 * 16 + rl;
    if (row >= n) continue;
    float v = yacc[rl * M + t] * (s_inv[t] * QM_OUT_SCALE);
#if QFMT == 2 || QFMT == 3
    v *= __ldg(reinterpret_cast<const float*>(scales) + row);
#endif
    float* out = y + (size_t)t * n + row;
    if (splits > 1) atomicAdd(out, v);
    else *out = accumulate ? *out + v : v;
  }
#endif
}
