#pragma once
// MoE routing on the device, so a decode step needs no host round trip (and can be captured as a graph):
// per token, softmax over the router logits, the top-k experts (descending probability, ties to the lower
// expert index) and their weights, renormalised to sum to 1 when `normalize`. The same arithmetic in the
// same order as kernels::moe_route_reference: equal expert ids, weights within an ulp or two.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string moe_route_source();

// The most experts one block's shared memory holds.
inline constexpr int64_t kMoeRouteMaxExperts = 8192;

}  // namespace synaptix::kernels::cuda
