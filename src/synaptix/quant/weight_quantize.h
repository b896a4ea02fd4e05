#pragma once
// The reference dequantizer and the round-to-nearest (RTN) quantizer of every weight format
// (weight_format.h). The dequantizer is the oracle every kernel of these formats is verified against
// (kernels/linear/quant_reference.h); the quantizer's pieces (a group's scale, a value's code, packing a row)
// are shared with the calibrated quantizers (GPTQ), which choose the codes differently.
#include <cstdint>

#include "synaptix/quant/weight_format.h"

namespace synaptix::quant {

// The scale (and zero point) of one group, or of a whole row for per-channel formats, as stored: scale is
// the value the dequantizer multiplies by (f16-rounded for int4, 2^(X-127) for mxfp4).
struct GroupParams {
  float scale = 0.0f;
  int zero = 0;            // int4-asym's zero point, 0..15
  uint8_t exponent = 127;  // mxfp4's E8M0 code X
};

// RTN parameters for v[0, n): the largest magnitude maps to the largest code (int8: 127, int4: 7, fp8: 448,
// mxfp4: the OCP MX shared exponent floor(log2 amax) - 2); int4-asym spans [min(v, 0), max(v, 0)] in 15 steps.
GroupParams choose_params(const WeightFormat& f, const float* v, int64_t n);
// The code of v under p (round to nearest, ties to even, clamped to the code range; int8 as its two's
// complement byte), and the value a code stands for.
uint8_t quantize_code(const WeightFormat& f, const GroupParams& p, float v);
float code_value(const WeightFormat& f, const GroupParams& p, uint8_t code);
// Packs one row of k codes with its parameters (one per group, or one per row) into weight_row_bytes(f, k)
// bytes at dst.
void pack_row(const WeightFormat& f, const GroupParams* params, const uint8_t* codes, int64_t k, uint8_t* dst);
// Reads group g's parameters of a packed row (g = 0 for per-channel formats).
GroupParams unpack_params(const WeightFormat& f, const uint8_t* row, int64_t k, int64_t g);

// RTN: rows x k f32 values into rows packed rows. Throws (weight_row_bytes) when k is not a whole number of
// groups. Rows are spread over the global thread pool.
void quantize_rows(const WeightFormat& f, const float* src, int64_t rows, int64_t k, uint8_t* dst);
// The reference dequantizer: rows packed rows of k elements into rows x k f32 values.
void dequantize_rows(const WeightFormat& f, const uint8_t* src, int64_t rows, int64_t k, float* dst);

}  // namespace synaptix::quant
