#pragma once
// GeGLU activation of the gated MLP (gemma3): out = gelu_tanh(gate) * up, with the tanh approximation of GELU
// (PyTorch's gelu(approximate="tanh"), transformers' "gelu_pytorch_tanh"):
// gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
#include <cstdint>

namespace synaptix::kernels {

float gelu_tanh(float x);
// out may alias gate or up.
void geglu_tanh_reference(const float* gate, const float* up, float* out, int64_t n);

}  // namespace synaptix::kernels
