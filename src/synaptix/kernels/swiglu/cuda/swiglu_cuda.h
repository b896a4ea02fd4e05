#pragma once
// SwiGLU on the device over the fused gate|up projection: gu is [m, 2 * inter] (gate first, then up, as the
// executor concatenates the two weights), out[m, inter] = silu(gate) * up, f32 or bf16.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

// The kernel source of swiglu and to_bf16 (for compile checks and the cubin cache).
std::string swiglu_source();
// The GELU-tanh form (geglu_tanh, same arguments as swiglu): out = gelu_tanh(gate) * up (gemma3). Its own
// source, so that swiglu's text (and cached cubin) stays as it was.
std::string geglu_source();

}  // namespace synaptix::kernels::cuda
