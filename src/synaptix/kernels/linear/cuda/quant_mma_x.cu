// The activations of the tensor-core product (quant_mma.cu) as its B operand: x (f32, or bf16 with XBF16)
// to f16 in the lane order of the operand (qm_x_index, quant_mma_decode.cuh), each token scaled by a power of
// two that puts its max |x| in [2^14, 2^15) (f16 cannot overflow, small values keep their precision); the
// inverse scale per token goes to xs. One block per token; k up to k_pad is written as zeros (the product
// reads every k of a token it has; tokens past m it never reads). k % 4 == 0, rows 16-byte (f32) or 8-byte
// (bf16) aligned.

__device__ __forceinline__ unsigned int qm_f16x2(float lo, float hi) {
  unsigned int d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

extern "C" __global__ void __launch_bounds__(256)
quant_mma_x(const void* __restrict__ xin, unsigned short* __restrict__ xh, float* __restrict__ xs, int m, int k, int k_pad) {
  __shared__ float part[8];
  const int t = blockIdx.x;
  pdl_wait();
  pdl_launch_dependents();
  float mx = 0.f;
#ifdef XBF16
  const bf16_t* xr = reinterpret_cast<const bf16_t*>(xin) + (size_t)t * k;
#else
  const float* xr = reinterpret_cast<const float*>(xin) + (size_t)t * k;
#endif
  if (t < m)
    for (int i = 4 * threadIdx.x; i < k; i += 4 * blockDim.x) {
#ifdef XBF16
      const uint2 v = *reinterpret_cast<const uint2*>(xr + i);
      mx = fmaxf(mx, fmaxf(fmaxf(fabsf(bf16_lo(v.x)), fabsf(bf16_hi(v.x))), fmaxf(fabsf(bf16_lo(v.y)), fabsf(bf16_hi(v.y)))));
#else
      const float4 v = *reinterpret_cast<const float4*>(xr + i);
      mx = fmaxf(mx, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
#endif
    }
  mx = warp_max(mx);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = mx;
  __syncthreads();
  mx = part[0];
  for (int i = 1; i < (int)(blockDim.x >> 5); ++i) mx = fmaxf(mx, part[i]);
  // 2^sh with max |x| 2^sh in [2^14, 2^15); 1 for an all-zero (or padding) row and for inf / NaN.
  int sh = 0;
  const unsigned int e = (__float_as_uint(mx) >> 23) & 0xffu;
  if (mx > 0.f && e != 0xffu) {
    sh = 14 - ((int)e - 127);
    sh = sh < -126 ? -126 : (sh > 126 ? 126 : sh);
  }
  const float scale = __uint_as_float((unsigned int)(sh + 127) << 23);
  if (threadIdx.x == 0) xs[t] = __uint_as_float((unsigned int)(127 - sh) << 23);
  for (int i = 4 * threadIdx.x; i < k_pad; i += 4 * blockDim.x) {
    float v0 = 0.f, v1 = 0.f, v2 = 0.f, v3 = 0.f;
    if (t < m && i < k) {
#ifdef XBF16
      const uint2 v = *reinterpret_cast<const uint2*>(xr + i);
      v0 = bf16_lo(v.x); v1 = bf16_hi(v.x); v2 = bf16_lo(v.y); v3 = bf16_hi(v.y);
#else
      const float4 v = *reinterpret_cast<const float4*>(xr + i);
      v0 = v.x; v1 = v.y; v2 = v.z; v3 = v.w;
#endif
    }
    uint2 o;
    o.x = qm_f16x2(v0 * scale, v1 * scale);
    o.y = qm_f16x2(v2 * scale, v3 * scale);
    *reinterpret_cast<uint2*>(xh + qm_x_index(t, i, k_pad)) = o;  // i % 4 == 0: 4 consecutive halves
  }
}

