#include "synaptix/core/dtype.h"

#include <cmath>

namespace synaptix {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::FP8_E4M3: return "fp8-e4m3";
    case DType::I8: return "int8";
    case DType::I4: return "int4";
    case DType::MXFP4: return "mxfp4";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::U8: return "uint8";
    case DType::Q4_0: return "q4_0";
    case DType::Q4_1: return "q4_1";
    case DType::Q5_0: return "q5_0";
    case DType::Q5_1: return "q5_1";
    case DType::Q8_0: return "q8_0";
    case DType::Q2_K: return "q2_k";
    case DType::Q3_K: return "q3_k";
    case DType::Q4_K: return "q4_k";
    case DType::Q5_K: return "q5_k";
    case DType::Q6_K: return "q6_k";
    case DType::W8_PC: return "int8-pc";
    case DType::W4_G32: return "int4-g32";
    case DType::W4_G64: return "int4-g64";
    case DType::W4_G128: return "int4-g128";
    case DType::W4A_G32: return "int4-g32-asym";
    case DType::W4A_G64: return "int4-g64-asym";
    case DType::W4A_G128: return "int4-g128-asym";
    case DType::FP8_PC: return "fp8-e4m3-pc";
  }
  return "?";
}

bool parse_dtype(std::string_view n, DType* out) {
  struct Entry { std::string_view name; DType t; };
  static constexpr Entry kNames[] = {
      {"F32", DType::F32},       {"float32", DType::F32},   {"f32", DType::F32},
      {"BF16", DType::BF16},     {"bfloat16", DType::BF16}, {"bf16", DType::BF16},
      {"F16", DType::F16},       {"float16", DType::F16},   {"f16", DType::F16},
      {"F8_E4M3", DType::FP8_E4M3}, {"I8", DType::I8},      {"I32", DType::I32},
      {"int32", DType::I32},     {"I64", DType::I64},       {"int64", DType::I64},
      {"U8", DType::U8},
      // The GGUF block types as dtype_name writes them (recipes record a kernel's w_dtype so).
      {"q4_0", DType::Q4_0},     {"q4_1", DType::Q4_1},     {"q5_0", DType::Q5_0},
      {"q5_1", DType::Q5_1},     {"q8_0", DType::Q8_0},     {"q2_k", DType::Q2_K},
      {"q3_k", DType::Q3_K},     {"q4_k", DType::Q4_K},     {"q5_k", DType::Q5_K},
      {"q6_k", DType::Q6_K},
      // The weight formats as dtype_name writes them (quantization recipes name them so).
      {"mxfp4", DType::MXFP4},   {"int8-pc", DType::W8_PC}, {"int4-g32", DType::W4_G32},
      {"int4-g64", DType::W4_G64}, {"int4-g128", DType::W4_G128}, {"int4-g32-asym", DType::W4A_G32},
      {"int4-g64-asym", DType::W4A_G64}, {"int4-g128-asym", DType::W4A_G128}, {"fp8-e4m3-pc", DType::FP8_PC},
  };
  for (const auto& e : kNames) {
    if (e.name == n) {
      *out = e.t;
      return true;
    }
  }
  return false;
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: return 4;
    case DType::BF16: case DType::F16: return 2;
    case DType::FP8_E4M3: case DType::I8: case DType::U8: return 1;
    case DType::I64: return 8;
    case DType::I4: case DType::MXFP4: return 0;
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q8_0:
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: return 0;
    case DType::W8_PC: case DType::W4_G32: case DType::W4_G64: case DType::W4_G128: case DType::W4A_G32:
    case DType::W4A_G64: case DType::W4A_G128: case DType::FP8_PC: return 0;
  }
  return 0;
}

bool is_block_dtype(DType t) { return (t >= DType::Q4_0 && t <= DType::Q6_K) || is_weight_format_dtype(t); }

bool is_weight_format_dtype(DType t) { return t == DType::MXFP4 || (t >= DType::W8_PC && t <= DType::FP8_PC); }

float f16_to_f32(uint16_t h) {
  uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((u >> 23) & 0xffu) - 127 + 15;
  uint32_t mant = u & 0x7fffffu;
  if (((u >> 23) & 0xffu) == 0xffu) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(half);
}

}  // namespace synaptix
