// A weight-format matrix in the tensor-core layout (quant_mma_layout.h) expanded to bf16 [n, k], each element
// the f32 product the CPU reference (quant::dequantize_rows) computes (scale times code value), rounded to
// nearest even, as quant_dequant.cu does from the packed rows: the operand of the cuBLASLt product for steps
// too large for the tensor-core product, when only the layout is on the device. One warp per (row tile, word),
// grid-stride; each lane decodes its two 16-byte words (quant_mma_decode.cuh) and writes 4 elements a step.
// #defines from the generator (quant_gemv_source.cpp): the format's (QFMT, GROUP, ASYM).

__device__ __forceinline__ unsigned int qm_bf16x2(float lo, float hi) {
  return (unsigned int)f32_to_bf16(lo) | ((unsigned int)f32_to_bf16(hi) << 16);
}

extern "C" __global__ void __launch_bounds__(256)
quant_mma_dequant_bf16(const uint4* __restrict__ codes, const void* __restrict__ scales, const unsigned char* __restrict__ zeros,
                       bf16_t* __restrict__ out, int n, int k, int kw) {
  // out may still be read by the product of the previous step: wait for the kernels before.
  pdl_wait();
  pdl_launch_dependents();
  (void)zeros;
  const int lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
  const long long n_tiles = (n + 15) >> 4, total = n_tiles * kw;
  for (long long wi = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5; wi < total;
       wi += ((long long)gridDim.x * blockDim.x) >> 5) {
    const long long tile = wi / kw;
    const int kb = (int)(wi - tile * kw);
QM_UNROLL
    for (int h = 0; h < 2; ++h) {
      const int row = (int)(tile * 16) + g + 8 * h;
      if (row >= n) continue;
      const uint4 wv = codes[(size_t)wi * 64 + 32 * h + lane];
      const unsigned int* w = &wv.x;
QM_UNROLL
      for (int s = 0; s < QM_STEPS; ++s) {
        const int e = kb * QM_WORD_K + 16 * s + 4 * q;  // first of the 4 elements
        if (e >= k) continue;                            // k % 4 == 0: all 4 or none
        const size_t si = (((size_t)tile * kw + kb) * QM_GROUPS_PER_WORD + s / QM_GROUP_STEPS) * 16 + g + 8 * h;
        unsigned int zc = 0u;
        float d;
#if QFMT == 1
        const unsigned int z = 0x6400u +
#if ASYM
                               zeros[si];
#else
                               8u;
#endif
        zc = z | (z << 16);
        d = qm_half_to_float(reinterpret_cast<const unsigned short*>(scales)[si]);
#elif QFMT == 4
        const unsigned int x = reinterpret_cast<const unsigned char*>(scales)[si];
        d = (x == 0 ? __uint_as_float(0x00400000u) : __uint_as_float(x << 23));
#else
        (void)si;
        d = reinterpret_cast<const float*>(scales)[row];
#endif
        unsigned int lo, hi;
        qm_decode(w, s, zc, lo, hi);
        const float v0 = qm_half_to_float((unsigned short)lo) * QM_OUT_SCALE, v1 = qm_half_to_float((unsigned short)(lo >> 16)) * QM_OUT_SCALE;
        const float v2 = qm_half_to_float((unsigned short)hi) * QM_OUT_SCALE, v3 = qm_half_to_float((unsigned short)(hi >> 16)) * QM_OUT_SCALE;
        uint2 o;
        o.x = qm_bf16x2(d * v0, d * v1);
        o.y = qm_bf16x2(d * v2, d * v3);
        *reinterpret_cast<uint2*>(out + (size_t)row * k + e) = o;
      }
    }
  }
}
