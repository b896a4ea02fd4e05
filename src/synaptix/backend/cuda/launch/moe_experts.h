#pragma once
// Launcher of the grouped MoE expert GEMVs (the kernel, its arguments and its source:
// kernels/moe/cuda/moe_experts_cuda.h): compiles and loads the kernel through the module cache on first use,
// then enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call the
// driver.
#include <cuda.h>

#include "synaptix/kernels/moe/cuda/moe_experts_cuda.h"

namespace synaptix::kernels::cuda {

// Enqueues gate_up + SwiGLU and down + weighted accumulate. Throws naming the shape when
// moe_experts_supports() is false or a pointer is misaligned.
void moe_experts(const MoeExpertsArgs& a, CUstream stream);

}  // namespace synaptix::kernels::cuda
