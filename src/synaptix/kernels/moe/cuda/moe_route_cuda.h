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

// logits f32 [tokens, experts] -> ids int32 [tokens, top_k], weights f32 [tokens, top_k]. Throws for
// top_k outside 1..experts or more experts than one block's shared memory holds (kMoeRouteMaxExperts).
inline constexpr int64_t kMoeRouteMaxExperts = 8192;
void moe_route(CUdeviceptr logits, CUdeviceptr ids, CUdeviceptr weights, int64_t tokens, int64_t experts,
               int64_t top_k, bool normalize, CUstream stream);

}  // namespace synaptix::kernels::cuda
