#pragma once
// Row dequantizers for the block types whose CPU linear path expands each W row to f32 on every call (Q5_0,
// Q5_1, Q4_K, Q6_K; kernels/linear/quant_default.h): vectorised with AVX-512 where the build has it, so that
// expanding a row costs about what reading it as bf16 would. Equal to dequantize_f32 up to f32 rounding (a
// fused multiply-add where the reference rounds twice); tests/kernels checks them through the linear op.
#include <cstdint>

#include "synaptix/core/dtype.h"

namespace synaptix::quant {

// Whether dequantize_rows_fast has a vectorised path for t in this build (else it runs the reference).
bool has_fast_dequantize(DType t);
// elems (whole blocks of block dtype t) from src into dst[0, elems).
void dequantize_rows_fast(DType t, const uint8_t* src, int64_t elems, float* dst);

}  // namespace synaptix::quant
