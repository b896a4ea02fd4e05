#pragma once
// SwiGLU activation of the gated MLP: out = silu(gate) * up, silu(x) = x / (1 + exp(-x)).
#include <cstdint>

namespace synaptix::kernels {

void swiglu_reference(const float* gate, const float* up, float* out, int64_t n);

}  // namespace synaptix::kernels
