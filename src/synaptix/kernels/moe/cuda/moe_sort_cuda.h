#pragma once
// Groups a step's routed (token, expert) pairs by expert on the device, for prefill-sized MoE steps that run
// each expert as one GEMM over its tokens: per expert the number of pairs routed to it, and expert-major
// lists of token rows and routing weights (experts ascending, tokens ascending within an expert: a stable
// order, so every run gathers the same rows in the same order). Only the counts go to the host, to size
// the per-expert launches.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string moe_sort_source();

// ids, weights [tokens, top_k] (moe_route's outputs) -> counts int32 [experts], rows int32 [tokens * top_k]
// (token index of each pair), sorted_weights f32 [tokens * top_k]; expert e's pairs start at the sum of the
// counts before e. Throws for experts outside 1..kMoeRouteMaxExperts (its counters live in shared memory).
void moe_sort(CUdeviceptr ids, CUdeviceptr weights, CUdeviceptr counts, CUdeviceptr rows, CUdeviceptr sorted_weights,
              int64_t tokens, int64_t top_k, int64_t experts, CUstream stream);

}  // namespace synaptix::kernels::cuda
