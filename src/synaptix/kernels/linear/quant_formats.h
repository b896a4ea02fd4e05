#pragma once
// The CPU default of the linear op for Synaptix's weight formats (quant/weight_format.h: int8-pc,
// fp8-e4m3-pc, int4-gG, int4-gG-asym, mxfp4), the part of linear_quant_default (quant_default.h) that knows
// their layouts. With AVX-512 or AVX2 a row is walked in units of 32 codes sharing one scale, each unit
// expanded into float vectors in registers; without them, the format's reference dequantizer.
#include <cstdint>

#include "synaptix/kernels/linear/reference.h"

namespace synaptix::kernels {

// Decode (m <= 4, k a multiple of 32, a SIMD build): y = x W^T with every unit expanded in registers and
// applied to all m rows of x; W streams once. Returns false, doing nothing, where this path does not apply.
bool linear_weight_format_fused(const LinearArgs& a);
// Row n's k weights as f32 (vector code where the build has it; equal to quant::dequantize_rows, whose
// products it computes the same way).
void dequantize_weight_format_row(DType t, const uint8_t* row, int64_t k, float* dst);

}  // namespace synaptix::kernels
