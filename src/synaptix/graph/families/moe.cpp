// Mixtral and Qwen3-MoE: a routed mixture of SwiGLU experts in place of the dense MLP (Qwen3-MoE: on the layers
// decoder_sparse_step selects and mlp_only_layers does not list; q/k norms as Qwen3).
#include "synaptix/core/error.h"
#include "synaptix/graph/families/family_builders.h"

namespace synaptix::graph::families {

ForwardPlan moe(const model::Spec& s) {
  refuse_foreign_features(s, /*qk_norm_ok=*/s.family == model::Family::Qwen3Moe);
  if (!s.is_moe() || s.num_experts_per_tok <= 0 || s.num_experts_per_tok > s.num_experts)
    fail("forward plan: model family ", model::family_name(s.family), " needs num_experts > 0 and 1 <= "
         "num_experts_per_tok <= num_experts; the spec has ", s.num_experts, " and ", s.num_experts_per_tok);
  ForwardPlan p = model_part(s);
  for (int64_t l = 0; l < s.num_layers; ++l)
    p.layers.push_back({spec_attention(s, l), false, s.layer_is_moe(l) ? routed_mlp(s) : dense_mlp(s), false});
  return p;
}

}  // namespace synaptix::graph::families
