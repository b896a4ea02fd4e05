#include "synaptix/kernels/linear/quant_reference.h"

#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

namespace synaptix::kernels {

void check_block_linear(const LinearArgs& a) {
  if (const quant::WeightFormat* w = quant::weight_format(a.w_dtype)) {
    if (a.k <= 0 || (w->group > 0 && a.k % w->group != 0))
      fail("linear: k = ", a.k, " is not a whole number of ", w->name, " groups (", w->group, " elements each)");
    return;
  }
  const quant::BlockFormat* f = quant::block_format(a.w_dtype);
  if (!f) fail("linear: weight dtype ", dtype_name(a.w_dtype), " is not a GGUF block type");
  if (a.k <= 0 || a.k % f->block_elems != 0)
    fail("linear: k = ", a.k, " is not a whole number of ", dtype_name(a.w_dtype), " blocks (", f->block_elems,
         " elements each)");
}

void linear_quant_reference(const LinearArgs& a) {
  check_block_linear(a);
  const quant::BlockFormat* f = quant::block_format(a.w_dtype);
  const quant::WeightFormat* wf = quant::weight_format(a.w_dtype);
  const int64_t rb = quant::row_bytes(a.w_dtype, a.k);
  std::vector<float> row(static_cast<size_t>(a.k)), y(static_cast<size_t>(a.m));
  for (int64_t n = 0; n < a.n; ++n) {
    const uint8_t* src = static_cast<const uint8_t*>(a.w) + n * rb;
    if (wf) quant::dequantize_rows(*wf, src, 1, a.k, row.data());
    else quant::dequantize_f32(*f, src, a.k, row.data());
    LinearArgs one{a.x, row.data(), DType::F32, a.bias ? a.bias + n : nullptr, y.data(), a.m, 1, a.k};
    linear_reference(one);
    for (int64_t m = 0; m < a.m; ++m) a.y[m * a.n + n] = y[static_cast<size_t>(m)];
  }
}

}  // namespace synaptix::kernels
