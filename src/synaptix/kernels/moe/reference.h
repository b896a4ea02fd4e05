#pragma once
// MoE routing: softmax over the router logits of one token, the top-k experts, and their weights
// (renormalised to sum to 1 when `normalize`, as Mixtral always and Qwen3-MoE with norm_topk_prob do).
#include <cstdint>
#include <vector>

namespace synaptix::kernels {

struct ExpertChoice {
  int32_t expert;
  float weight;
};

std::vector<ExpertChoice> moe_route_reference(const float* router_logits, int64_t num_experts, int64_t top_k,
                                              bool normalize);

}  // namespace synaptix::kernels
