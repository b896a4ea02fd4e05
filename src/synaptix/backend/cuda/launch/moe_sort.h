#pragma once
// Launcher of the grouping of routed pairs by expert (the kernel, its arguments and its source:
// kernels/moe/cuda/moe_sort_cuda.h): compiles and loads the kernel through the module cache on first use, then
// enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call the
// driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/moe/cuda/moe_sort_cuda.h"

namespace synaptix::kernels::cuda {

// ids, weights [tokens, top_k] (moe_route's outputs) -> counts int32 [experts], rows int32 [tokens * top_k]
// (token index of each pair), sorted_weights f32 [tokens * top_k]; expert e's pairs start at the sum of the
// counts before e. Throws for experts outside 1..kMoeRouteMaxExperts (its counters live in shared memory).
void moe_sort(CUdeviceptr ids, CUdeviceptr weights, CUdeviceptr counts, CUdeviceptr rows, CUdeviceptr sorted_weights,
              int64_t tokens, int64_t top_k, int64_t experts, CUstream stream);

}  // namespace synaptix::kernels::cuda
