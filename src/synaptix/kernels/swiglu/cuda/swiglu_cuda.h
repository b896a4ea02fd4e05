#pragma once
// SwiGLU on the device over the fused gate|up projection: gu is [m, 2 * inter] (gate first, then up, as the
// executor concatenates the two weights), out[m, inter] = silu(gate) * up, f32 or bf16.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

// The kernel source of swiglu and to_bf16 (for compile checks and the cubin cache).
std::string swiglu_source();

}  // namespace synaptix::kernels::cuda
