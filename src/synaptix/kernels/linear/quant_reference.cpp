#include "synaptix/kernels/linear/quant_reference.h"

#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"

namespace synaptix::kernels {

void check_block_linear(const LinearArgs& a) {
  const quant::BlockFormat* f = quant::block_format(a.w_dtype);
  if (!f) fail("linear: weight dtype ", dtype_name(a.w_dtype), " is not a GGUF block type");
  if (a.k <= 0 || a.k % f->block_elems != 0)
    fail("linear: k = ", a.k, " is not a whole number of ", dtype_name(a.w_dtype), " blocks (", f->block_elems,
         " elements each)");
}

void linear_quant_reference(const LinearArgs& a) {
  check_block_linear(a);
  const quant::BlockFormat& f = *quant::block_format(a.w_dtype);
  const int64_t rb = quant::row_bytes(a.w_dtype, a.k);
  std::vector<float> row(static_cast<size_t>(a.k)), y(static_cast<size_t>(a.m));
  for (int64_t n = 0; n < a.n; ++n) {
    quant::dequantize_f32(f, static_cast<const uint8_t*>(a.w) + n * rb, a.k, row.data());
    LinearArgs one{a.x, row.data(), DType::F32, a.bias ? a.bias + n : nullptr, y.data(), a.m, 1, a.k};
    linear_reference(one);
    for (int64_t m = 0; m < a.m; ++m) a.y[m * a.n + n] = y[static_cast<size_t>(m)];
  }
}

}  // namespace synaptix::kernels
