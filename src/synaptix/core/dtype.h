#pragma once
// Element types and the scalar conversions every layer shares. bf16 and f16 are stored as raw 16-bit words;
// arithmetic is always done in f32.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace synaptix {

// Q4_0 .. Q6_K are GGUF/ggml block types: a row of a matrix is a whole number of blocks, each with its own
// scales (layouts and row sizes in quant/block_dtype.h); dtype_size reports 0 for them. MXFP4 and W8_PC ..
// FP8_PC are Synaptix's weight formats (quant/weight_format.h): rows packed with their scales like the GGUF
// blocks (int8 or fp8 e4m3 per output channel, int4 per group of 32/64/128 with or without zero points).
enum class DType : uint8_t {
  F32, BF16, F16, FP8_E4M3, I8, I4, MXFP4, I32, I64, U8,
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
  W8_PC, W4_G32, W4_G64, W4_G128, W4A_G32, W4A_G64, W4A_G128, FP8_PC,
};

std::string_view dtype_name(DType t);
// Parses the names used by safetensors ("BF16", "F32", ...) and by configs ("bfloat16", "float32", ...).
bool parse_dtype(std::string_view name, DType* out);
// Bytes per element; sub-byte types (I4, MXFP4) report 0 and are sized by their packing.
size_t dtype_size(DType t);
// True for the GGUF block types (Q4_0 .. Q6_K) and the weight formats (MXFP4, W8_PC .. FP8_PC): the
// packed-row dtypes the linear op runs through kernels/linear/quant_*.
bool is_block_dtype(DType t);
// True for the weight formats of quant/weight_format.h (MXFP4, W8_PC .. FP8_PC).
bool is_weight_format_dtype(DType t);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as PyTorch does; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

}  // namespace synaptix
