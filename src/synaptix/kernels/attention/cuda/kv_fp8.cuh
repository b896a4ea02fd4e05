// The fp8-e4m3 KV cache's codes on the device, bit for bit the CPU's (kernels/attention/kv_format.h):
// OFP8 E4M3 ("FN"), unscaled, rounded to nearest even and saturated to +-448; NaN codes as 0x7F.
// Decode: sign to bit 31, exponent and mantissa to bits 20..26 (the value times 2^-120; subnormals land on
// exact f32 subnormals: NVRTC keeps denormals unless told --ftz), then times 2^120.
__device__ __forceinline__ float kv_fp8_to_f32(unsigned int c) {
  return (c & 0x7fu) == 0x7fu ? __int_as_float(0x7fc00000)
                              : __int_as_float((int)(((c & 0x80u) << 24) | ((c & 0x7fu) << 20))) * 1.329227995784916e36f;
}
// Encode: below 2^-6 the subnormal steps of 2^-9 (rintf is ties-to-even); above, the f32's top 3 mantissa
// bits rounded to nearest even on the integer (a carry moves into the exponent), then rebiased 127 -> 7.
__device__ __forceinline__ unsigned char kv_f32_to_fp8(float v) {
  const unsigned int u = __float_as_uint(v), sign = (u >> 24) & 0x80u;
  const float a = fabsf(v);
  if (a != a) return 0x7f;
  if (a >= 448.f) return (unsigned char)(sign | 0x7eu);
  if (a < 0.015625f) return (unsigned char)(sign | (unsigned int)rintf(a * 512.f));
  const unsigned int m = __float_as_uint(a);
  const unsigned int r = (m + 0x7ffffu + ((m >> 20) & 1u)) >> 20;
  return (unsigned char)(sign | (r - (120u << 3)));
}
