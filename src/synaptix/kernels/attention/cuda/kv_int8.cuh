// The int8 KV cache on the device, bit for bit the CPU's quantization of a row (kernels/attention/kv_format.h):
// scale = max|x| / 127 over the head's D values (0 when all are 0), code = round-half-even(x / scale) clamped
// to [-127, 127], value = code * scale. Both divisions are IEEE round-to-nearest (__fdiv_rn, whatever the
// compile flags) and rintf rounds ties to even, as std::nearbyint does on the CPU.
//
// Layout (kv_int8_layout.h, the host's copy): a cache block of bs tokens is [bs][KVH][D] codes, then
// [bs][KVH] f32 scales, so block b starts at b * bs * KVH * (D + 4) bytes. The codes keep the rows of the
// other formats (a warp reads a row's D bytes in one coalesced load), a row's scale sits in the same block
// (one broadcast 4-byte load per key), and nothing else changes size: K and V of a token take
// 2 * KVH * (D + 4) bytes per layer, kernels::kv_bytes_per_token_layer. bs % 4 == 0 keeps every row and
// scale aligned for the vector loads (the launchers check it).
__device__ __forceinline__ float kv_int8_scale(float amax) { return __fdiv_rn(amax, 127.f); }
__device__ __forceinline__ int kv_int8_code(float x, float scale) {
  if (!(scale > 0.f)) return 0;
  return (int)fminf(fmaxf(rintf(__fdiv_rn(x, scale)), -127.f), 127.f);
}
// Byte offsets of row (block b, offset o in the block, KV head kvh): its codes and its scale.
__device__ __forceinline__ long long kv_int8_row_at(long long b, int o, int bs, int KVH, int kvh, int d) {
  return b * bs * KVH * (d + 4) + ((long long)o * KVH + kvh) * d;
}
__device__ __forceinline__ long long kv_int8_scale_at(long long b, int o, int bs, int KVH, int kvh, int d) {
  return b * bs * KVH * (d + 4) + (long long)bs * KVH * d + ((long long)o * KVH + kvh) * 4;
}
// Code e (0..3) of a word of four, sign-extended.
__device__ __forceinline__ float kv_int8_lane(unsigned int w, int e) { return (float)((int)(w << (24 - 8 * e)) >> 24); }
