#pragma once
// Launcher of the MoE routing, softmax and top-k (the kernel, its arguments and its source:
// kernels/moe/cuda/moe_route_cuda.h): compiles and loads the kernel through the module cache on first use, then
// enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call the
// driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/moe/cuda/moe_route_cuda.h"

namespace synaptix::kernels::cuda {

// logits f32 [tokens, experts] -> ids int32 [tokens, top_k], weights f32 [tokens, top_k]. Throws for
// top_k outside 1..experts or more experts than one block's shared memory holds (kMoeRouteMaxExperts).
void moe_route(CUdeviceptr logits, CUdeviceptr ids, CUdeviceptr weights, int64_t tokens, int64_t experts,
               int64_t top_k, bool normalize, CUstream stream);

}  // namespace synaptix::kernels::cuda
