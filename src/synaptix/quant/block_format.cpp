#include "synaptix/quant/block_format.h"

#include <array>

namespace synaptix::quant {

namespace {

constexpr int64_t kQK = 32;    // elements of a legacy block (Q4_0 .. Q8_0)
constexpr int64_t kQKK = 256;  // elements of a k-quant super-block

// Byte counts spelled out from the block structs so a reader can check them against ggml-common.h.
constexpr std::array<BlockFormat, 14> kFormats{{
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", kQK, 2 + kQK / 2},                  // d, 4-bit quants
    {GgmlType::Q4_1, "Q4_1", kQK, 2 + 2 + kQK / 2},              // d, m, 4-bit quants
    {GgmlType::Q5_0, "Q5_0", kQK, 2 + 4 + kQK / 2},              // d, 32 high bits, low nibbles
    {GgmlType::Q5_1, "Q5_1", kQK, 2 + 2 + 4 + kQK / 2},          // d, m, high bits, low nibbles
    {GgmlType::Q8_0, "Q8_0", kQK, 2 + kQK},                      // d, int8 quants
    {GgmlType::Q2_K, "Q2_K", kQKK, kQKK / 16 + kQKK / 4 + 2 + 2},  // scales|mins, 2-bit quants, d, dmin
    {GgmlType::Q3_K, "Q3_K", kQKK, kQKK / 8 + kQKK / 4 + 12 + 2},  // high-bit mask, low 2 bits, scales, d
    {GgmlType::Q4_K, "Q4_K", kQKK, 2 + 2 + 12 + kQKK / 2},         // d, dmin, 6-bit scales|mins, nibbles
    {GgmlType::Q5_K, "Q5_K", kQKK, 2 + 2 + 12 + kQKK / 8 + kQKK / 2},  // + high bits
    {GgmlType::Q6_K, "Q6_K", kQKK, kQKK / 2 + kQKK / 4 + kQKK / 16 + 2},  // low 4, high 2, int8 scales, d
    {GgmlType::Q8_K, "Q8_K", kQKK, 4 + kQKK + kQKK / 16 * 2},      // f32 d, int8 quants, int16 block sums
}};

// Every id ggml has assigned (ggml.h's enum ggml_type), for naming what we refuse.
constexpr std::array<std::string_view, 42> kAllNames{
    "F32",  "F16",    "Q4_0",   "Q4_1",    "Q4_2 (removed)", "Q4_3 (removed)", "Q5_0",  "Q5_1",  "Q8_0",
    "Q8_1", "Q2_K",   "Q3_K",   "Q4_K",    "Q5_K",           "Q6_K",           "Q8_K",  "IQ2_XXS", "IQ2_XS",
    "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S",          "IQ4_XS",         "I8",    "I16",   "I32",
    "I64",  "F64",    "IQ1_M",  "BF16",    "Q4_0_4_4 (removed)", "Q4_0_4_8 (removed)", "Q4_0_8_8 (removed)",
    "TQ1_0", "TQ2_0", "IQ4_NL_4_4 (removed)", "IQ4_NL_4_8 (removed)", "IQ4_NL_8_8 (removed)", "MXFP4", "NVFP4",
    "Q1_0"};

}  // namespace

const BlockFormat* find_format(uint32_t type_id) {
  for (const auto& f : kFormats)
    if (static_cast<uint32_t>(f.type) == type_id) return &f;
  return nullptr;
}

const BlockFormat& format_of(GgmlType t) { return *find_format(static_cast<uint32_t>(t)); }

std::string_view ggml_type_name(uint32_t type_id) {
  return type_id < kAllNames.size() ? kAllNames[type_id] : std::string_view("unknown");
}

std::string supported_type_names() {
  std::string s;
  for (const auto& f : kFormats) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

std::optional<int64_t> packed_bytes(const BlockFormat& f, int64_t elems) {
  if (elems < 0 || elems % f.block_elems != 0) return std::nullopt;
  int64_t bytes = 0;
  if (__builtin_mul_overflow(elems / f.block_elems, f.block_bytes, &bytes)) return std::nullopt;
  return bytes;
}

}  // namespace synaptix::quant
