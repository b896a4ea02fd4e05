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
#include <optional>
#include <vector>

#include "synaptix/quant/weight_format.h"

namespace synaptix::agents {

struct GptqOptions {
  double damp = 0.01;  // the fraction of the mean diagonal of H added to its diagonal
};

// What GPTQ needs of the inputs X [t, k]: the upper Cholesky factor of the damped inverse Hessian, and the
// inputs that are always 0. Projections that read the same input (q, k, v; gate, up) share one.
struct GptqFactor {
  int64_t k = 0;
  std::vector<float> u;       // k x k, row-major
  std::vector<uint8_t> dead;  // k
};
// nullopt when H stays not positive definite after raising the damping: the caller falls back to round to
// nearest.
std::optional<GptqFactor> gptq_factor(const float* x, int64_t t, int64_t k, const GptqOptions& o = {});
void gptq_quantize(const quant::WeightFormat& f, const float* w, int64_t n, int64_t k, const GptqFactor& h, uint8_t* out);
// Both steps; returns false (out untouched) where gptq_factor gives nullopt.
bool gptq_quantize(const quant::WeightFormat& f, const float* w, int64_t n, int64_t k, const float* x, int64_t t,
                   uint8_t* out, const GptqOptions& o = {});

}  // namespace synaptix::agents
