#include "synaptix/quant/block_dtype.h"

#include "synaptix/core/error.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::quant {

namespace {

struct Pair {
  DType dtype;
  GgmlType ggml;
};
constexpr Pair kPairs[] = {
    {DType::Q4_0, GgmlType::Q4_0}, {DType::Q4_1, GgmlType::Q4_1}, {DType::Q5_0, GgmlType::Q5_0},
    {DType::Q5_1, GgmlType::Q5_1}, {DType::Q8_0, GgmlType::Q8_0}, {DType::Q2_K, GgmlType::Q2_K},
    {DType::Q3_K, GgmlType::Q3_K}, {DType::Q4_K, GgmlType::Q4_K}, {DType::Q5_K, GgmlType::Q5_K},
    {DType::Q6_K, GgmlType::Q6_K},
};

}  // namespace

const BlockFormat* block_format(DType t) {
  for (const auto& p : kPairs)
    if (p.dtype == t) return &format_of(p.ggml);
  return nullptr;
}

std::optional<DType> block_dtype(GgmlType t) {
  for (const auto& p : kPairs)
    if (p.ggml == t) return p.dtype;
  return std::nullopt;
}

int64_t row_bytes(DType t, int64_t k) {
  if (const BlockFormat* f = block_format(t)) {
    const auto bytes = packed_bytes(*f, k);
    if (!bytes)
      fail("a row of ", k, " elements of ", dtype_name(t), " is not a whole number of blocks (", f->block_elems,
           " elements each)");
    return *bytes;
  }
  if (const WeightFormat* w = weight_format(t)) return weight_row_bytes(*w, k);
  const size_t es = dtype_size(t);
  if (es == 0) fail("dtype ", dtype_name(t), " has no byte size per element to lay out rows of ", k);
  return k * static_cast<int64_t>(es);
}

}  // namespace synaptix::quant
