#pragma once
// linear with GGUF block weights (W of dtype Q4_0 .. Q6_K, row n at n * row_bytes(w_dtype, k)) or Synaptix's
// weight formats (int8-pc .. mxfp4, quant/weight_format.h): the op's meaning is "dequantize W with the
// format's reference dequantizer (quant/dequantize.h, quant/weight_quantize.h), then linear in f32".
// This is the oracle every block-weight kernel (the default below linear_default, the generated ones) is
// verified against; linear_reference dispatches block dtypes here.
#include "synaptix/kernels/linear/reference.h"

namespace synaptix::kernels {

// Throws synaptix::Error when a.w_dtype is not a block dtype or k is not a whole number of its blocks/groups.
void check_block_linear(const LinearArgs& a);
// Single-threaded: each row of W dequantized to f32 (quant::dequantize_f32), then the f32 linear_reference.
void linear_quant_reference(const LinearArgs& a);

}  // namespace synaptix::kernels
