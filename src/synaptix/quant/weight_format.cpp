#include "synaptix/quant/weight_format.h"

#include <array>

#include "synaptix/core/error.h"

namespace synaptix::quant {

namespace {

constexpr WeightFormat group4(DType t, std::string_view name, int64_t g, bool asym) {
  return {t, name, asym ? CodeType::Int4Asym : CodeType::Int4, ScaleType::F16, g, (asym ? 4 : 2) + g / 2, 0, 4};
}

constexpr std::array<WeightFormat, 9> kFormats{{
    {DType::W8_PC, "int8-pc", CodeType::Int8, ScaleType::F32, 0, 0, 4, 8},
    {DType::FP8_PC, "fp8-e4m3-pc", CodeType::Fp8E4M3, ScaleType::F32, 0, 0, 4, 8},
    group4(DType::W4_G32, "int4-g32", 32, false),
    group4(DType::W4_G64, "int4-g64", 64, false),
    group4(DType::W4_G128, "int4-g128", 128, false),
    group4(DType::W4A_G32, "int4-g32-asym", 32, true),
    group4(DType::W4A_G64, "int4-g64-asym", 64, true),
    group4(DType::W4A_G128, "int4-g128-asym", 128, true),
    {DType::MXFP4, "mxfp4", CodeType::E2M1, ScaleType::E8M0, 32, 1 + 16, 0, 4},
}};

}  // namespace

std::span<const WeightFormat> weight_formats() { return kFormats; }

const WeightFormat* weight_format(DType t) {
  for (const auto& f : kFormats)
    if (f.dtype == t) return &f;
  return nullptr;
}

const WeightFormat* weight_format_named(std::string_view name) {
  if (name == "int8") name = "int8-pc";
  else if (name == "fp8" || name == "fp8-e4m3") name = "fp8-e4m3-pc";
  else if (name == "int4") name = "int4-g128";
  for (const auto& f : kFormats)
    if (f.name == name) return &f;
  return nullptr;
}

std::string weight_format_names() {
  std::string s;
  for (const auto& f : kFormats) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

int64_t weight_row_bytes(const WeightFormat& f, int64_t k) {
  if (k <= 0) fail("weight format ", f.name, ": a row of ", k, " elements (expected at least one)");
  if (f.group == 0) return f.row_header_bytes + k * f.bits / 8;
  if (k % f.group != 0)
    fail("weight format ", f.name, ": a row of ", k, " elements is not a whole number of groups of ", f.group,
         " (k must be a multiple of ", f.group, ")");
  return k / f.group * f.block_bytes;
}

double bits_per_weight(const WeightFormat& f, int64_t k) {
  return 8.0 * static_cast<double>(weight_row_bytes(f, k)) / static_cast<double>(k);
}

}  // namespace synaptix::quant
