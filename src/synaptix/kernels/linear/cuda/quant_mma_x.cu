// The activations of the tensor-core product (quant_mma.cu) as its B operand: x (f32, or bf16 with XBF16)
// to f16 in the lane order of the operand (qm_x_index, quant_mma_decode.cuh), each token scaled by a power of
// two that puts its max |x| in [2^14, 2^15) (f16 cannot overflow, small values keep their precision); the
// inverse scale per token goes to xs. One block of 1024 threads per token, each thread's first QX_VEC groups
// of 4 elements loaded at once and kept in registers (one round trip for k up to 32768; longer rows loop).
// Elements k..k_pad-1 are written as zeros (the product reads every k of the tokens it has; tokens past m it
// never reads). With y_zero: the token's row of the product's output y [m, n] is zeroed too. k % 4 == 0,
// rows 16-byte (f32) or 8-byte (bf16) aligned. With QX_ROWS the f16 x is row-major instead ([m][k_pad], the
// stream form's pre-pass).

#define QX_VEC 8  // float4 (or 4 bf16) of x a thread keeps in registers

__device__ __forceinline__ float4 qx_load4(const void* xr, int i) {
#ifdef XBF16
  const uint2 v = *reinterpret_cast<const uint2*>(reinterpret_cast<const bf16_t*>(xr) + i);
  return make_float4(bf16_lo(v.x), bf16_hi(v.x), bf16_lo(v.y), bf16_hi(v.y));
#else
  return *reinterpret_cast<const float4*>(reinterpret_cast<const float*>(xr) + i);
#endif
}

__device__ __forceinline__ float qx_absmax4(float4 v) { return fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))); }

__device__ __forceinline__ void qx_store4(unsigned short* __restrict__ xh, int t, int i, int k_pad, float4 v, float scale) {
  uint2 o;
  o.x = qm_f16x2(v.x * scale, v.y * scale);
  o.y = qm_f16x2(v.z * scale, v.w * scale);
#ifdef QX_ROWS
  *reinterpret_cast<uint2*>(xh + (long long)t * k_pad + i) = o;  // row-major (the stream form's XPRE)
#else
  *reinterpret_cast<uint2*>(xh + qm_x_index(t, i, k_pad)) = o;  // i % 4 == 0: 4 consecutive halves
#endif
}

extern "C" __global__ void __launch_bounds__(1024)
quant_mma_x(const void* __restrict__ xin, unsigned short* __restrict__ xh, float* __restrict__ xs, int m, int k, int k_pad,
            float* __restrict__ y_zero, int n) {
  __shared__ float part[32];
  const int t = blockIdx.x, stride = 4 * blockDim.x;
  pdl_wait();
  pdl_launch_dependents();
  const void* xr = reinterpret_cast<const char*>(xin) + (size_t)t * k *
#ifdef XBF16
                   2;
#else
                   4;
#endif
  float4 v[QX_VEC];
  float mx = 0.f;
QM_UNROLL
  for (int u = 0; u < QX_VEC; ++u) {
    const int i = 4 * threadIdx.x + u * stride;
    v[u] = i < k ? qx_load4(xr, i) : make_float4(0.f, 0.f, 0.f, 0.f);
  }
QM_UNROLL
  for (int u = 0; u < QX_VEC; ++u) mx = fmaxf(mx, qx_absmax4(v[u]));
  for (int i = 4 * threadIdx.x + QX_VEC * stride; i < k; i += stride) mx = fmaxf(mx, qx_absmax4(qx_load4(xr, i)));
  mx = warp_max(mx);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = mx;
  __syncthreads();
  mx = part[0];
  for (int i = 1; i < (int)(blockDim.x >> 5); ++i) mx = fmaxf(mx, part[i]);
  // 2^sh with max |x| 2^sh in [2^14, 2^15); 1 for an all-zero row and for inf / NaN.
  int sh = 0;
  const unsigned int e = (__float_as_uint(mx) >> 23) & 0xffu;
  if (mx > 0.f && e != 0xffu) {
    sh = 14 - ((int)e - 127);
    sh = sh < -126 ? -126 : (sh > 126 ? 126 : sh);
  }
  const float scale = __uint_as_float((unsigned int)(sh + 127) << 23);
  if (threadIdx.x == 0) xs[t] = __uint_as_float((unsigned int)(127 - sh) << 23);
  // The product adds its k slices into y atomically: y starts at zero (unless it accumulates: y_zero null).
  if (y_zero)
    for (int i = threadIdx.x; i < n; i += blockDim.x) y_zero[(size_t)t * n + i] = 0.f;
QM_UNROLL
  for (int u = 0; u < QX_VEC; ++u) {
    const int i = 4 * threadIdx.x + u * stride;
    if (i < k_pad) qx_store4(xh, t, i, k_pad, v[u], scale);  // past k: the zeros loaded above
  }
  for (int i = 4 * threadIdx.x + QX_VEC * stride; i < k_pad; i += stride)
    qx_store4(xh, t, i, k_pad, i < k ? qx_load4(xr, i) : make_float4(0.f, 0.f, 0.f, 0.f), scale);
}
