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

}  // namespace synaptix::kernels::cuda
