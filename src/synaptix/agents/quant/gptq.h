#pragma once
// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh, "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers", ICLR 2023): a weight matrix W [n, k] is quantized one input column at a time,
// and each column's rounding error is spread over the columns not yet quantized through the inverse of the
// layer's input Hessian H = X^T X / t (+ damping), so that X W^T (the layer's output on calibration
// activations X [t, k]) moves least. A group's scale (and zero point) is chosen when the quantizer reaches
// the group, from the weights as updated so far; per-channel formats take their row scale from the start.
// Rows are independent given H, so they run in parallel. The output is packed exactly as
// quant::quantize_rows packs it, and dequantizes with the format's reference.
#include <cstdint>

#include "synaptix/quant/weight_format.h"

namespace synaptix::agents {

struct GptqOptions {
  double damp = 0.01;  // the fraction of the mean diagonal of H added to its diagonal
};

// Returns false (out untouched) when H stays not positive definite after raising the damping: the caller
// falls back to round to nearest.
bool gptq_quantize(const quant::WeightFormat& f, const float* w, int64_t n, int64_t k, const float* x, int64_t t,
                   uint8_t* out, const GptqOptions& o = {});

}  // namespace synaptix::agents
