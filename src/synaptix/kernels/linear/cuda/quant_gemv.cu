// Decode GEMV for Synaptix's weight formats (quant/weight_format.h): y[j, row] = sum_i x[j, i] * W[row, i]
// for the M rows of x, W dequantized in registers as it streams by (never written out), f32 accumulation.
// One warp per weight row, WARPS rows per block; the warp's partial sums are reduced with shuffles.
// #defines from the generator (quant_gemv_source.cpp): FORMAT (1: int4-g128, 2: fp8-e4m3-pc), M, WARPS.
//  - int4-g128: a row is k / 128 blocks of 66 bytes: f16 scale d, then 64 bytes whose byte j holds element
//    j in its low nibble and element j + 64 in its high one; w = d * (nibble - 8). Lane l reads the 2 bytes
//    at 2l: elements 2l, 2l + 1, 64 + 2l, 65 + 2l of each block.
//  - fp8-e4m3-pc: a row is an f32 scale s then k E4M3 bytes (k % 4 == 0, so rows stay 4-byte aligned);
//    w = s * e4m3(c). Lane l reads 4 codes at a time; the scale is applied once per row.

__device__ __forceinline__ float quant_half_to_float(unsigned short h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}

// E4M3 to f32: sign to bit 31, exponent and mantissa to bits 20..26 (2^-120 times the value, subnormals
// exact), times 2^120. The NaN code is not produced by the quantizers.
__device__ __forceinline__ float quant_e4m3_to_float(unsigned int c) {
  return __int_as_float(((c & 0x80u) << 24) | ((c & 0x7fu) << 20)) * 1.329227995784916e36f;
}

extern "C" __global__ void __launch_bounds__(WARPS * 32)
quant_gemv(const float* __restrict__ x, const unsigned char* __restrict__ w, float* __restrict__ y, int n, int k) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int row = blockIdx.x * WARPS + warp;
  if (row >= n) return;
  float acc[M];
#pragma unroll
  for (int j = 0; j < M; ++j) acc[j] = 0.f;
#if FORMAT == 1
  const int blocks = k >> 7;
  const unsigned char* wr = w + (size_t)row * blocks * 66;
  for (int b = 0; b < blocks; ++b) {
    const unsigned char* blk = wr + b * 66;
    const float d = quant_half_to_float(*reinterpret_cast<const unsigned short*>(blk));
    const unsigned int two = *reinterpret_cast<const unsigned short*>(blk + 2 + 2 * lane);
    const float q0 = (float)((int)(two & 15u) - 8), q1 = (float)((int)((two >> 8) & 15u) - 8);
    const float h0 = (float)((int)((two >> 4) & 15u) - 8), h1 = (float)((int)((two >> 12) & 15u) - 8);
    const int e = (b << 7) + 2 * lane;
#pragma unroll
    for (int j = 0; j < M; ++j) {
      const float* xj = x + (size_t)j * k + e;
      acc[j] = fmaf(d, q0 * xj[0] + q1 * xj[1] + h0 * xj[64] + h1 * xj[65], acc[j]);
    }
  }
#elif FORMAT == 2
  const unsigned char* wr = w + (size_t)row * (4 + k);
  const float s = *reinterpret_cast<const float*>(wr);
  const unsigned int* codes = reinterpret_cast<const unsigned int*>(wr + 4);
  for (int i = lane; i < (k >> 2); i += 32) {
    const unsigned int c = codes[i];
    const float v0 = quant_e4m3_to_float(c), v1 = quant_e4m3_to_float(c >> 8);
    const float v2 = quant_e4m3_to_float(c >> 16), v3 = quant_e4m3_to_float(c >> 24);
#pragma unroll
    for (int j = 0; j < M; ++j) {
      const float4 xv = *reinterpret_cast<const float4*>(x + (size_t)j * k + 4 * i);
      acc[j] += v0 * xv.x + v1 * xv.y + v2 * xv.z + v3 * xv.w;
    }
  }
#pragma unroll
  for (int j = 0; j < M; ++j) acc[j] *= s;
#else
#error "FORMAT must be 1 (int4-g128) or 2 (fp8-e4m3-pc)"
#endif
#pragma unroll
  for (int j = 0; j < M; ++j) {
    float v = acc[j];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) y[(size_t)j * n + row] = v;
  }
}
