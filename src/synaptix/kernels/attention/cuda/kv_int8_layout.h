#pragma once
// Where the device's int8 KV cache keeps a row's codes and its scale (kv_int8.cuh is the kernels' copy): a
// cache block of block_size tokens is [block_size][KVH][D] int8 codes, then [block_size][KVH] f32 scales.
// The CPU keeps the same codes and scales in two arrays (kernels/attention/kv_format.h); the bytes per token
// are the same, kernels::kv_bytes_per_token_layer.
#include <cstdint>

namespace synaptix::kernels::cuda {

// Bytes of one cache block of one layer's K (or V).
inline constexpr int64_t kv_int8_block_bytes(int64_t block_size, int64_t kv_heads, int64_t head_dim) {
  return block_size * kv_heads * (head_dim + 4);
}
// Byte offsets of slot (= block * block_size + offset) and KV head kvh: its codes, and its f32 scale.
inline constexpr int64_t kv_int8_row_offset(int64_t slot, int64_t block_size, int64_t kv_heads, int64_t kvh, int64_t head_dim) {
  return slot / block_size * kv_int8_block_bytes(block_size, kv_heads, head_dim) +
         (slot % block_size * kv_heads + kvh) * head_dim;
}
inline constexpr int64_t kv_int8_scale_offset(int64_t slot, int64_t block_size, int64_t kv_heads, int64_t kvh, int64_t head_dim) {
  return slot / block_size * kv_int8_block_bytes(block_size, kv_heads, head_dim) + block_size * kv_heads * head_dim +
         (slot % block_size * kv_heads + kvh) * 4;
}
// The block sizes the layout keeps aligned for the kernels' vector loads.
inline constexpr bool kv_int8_block_size_ok(int64_t block_size) { return block_size > 0 && block_size % 4 == 0; }

}  // namespace synaptix::kernels::cuda
