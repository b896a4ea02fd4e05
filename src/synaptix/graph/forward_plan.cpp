#include "synaptix/graph/forward_plan.h"

#include <algorithm>
#include <set>

#include "synaptix/core/error.h"
#include "synaptix/graph/families/family_builders.h"
#include "synaptix/graph/forward_walk.h"

namespace synaptix::graph {

bool ForwardPlan::uses_sliding_rope() const {
  return std::any_of(layers.begin(), layers.end(), [](const LayerStep& l) { return l.attention.rope == RopeTableId::Sliding; });
}

bool ForwardPlan::has_post_norms() const {
  return std::any_of(layers.begin(), layers.end(), [](const LayerStep& l) { return l.post_attention_norm || l.post_mlp_norm; });
}

ForwardPlan build_forward_plan(const model::Spec& s) {
  if (s.hidden_size <= 0 || s.num_layers <= 0 || s.num_heads <= 0 || s.num_kv_heads <= 0 || s.head_dim <= 0 ||
      s.vocab_size <= 0)
    fail("forward plan: the spec of model_type '", s.model_type,
         "' lacks hidden_size, num_layers, num_heads, num_kv_heads, head_dim or vocab_size (all must be > 0)");
  switch (s.family) {
    case model::Family::Llama:
    case model::Family::Mistral:
    case model::Family::Qwen2: return families::llama(s);
    case model::Family::Qwen3: return families::qwen3(s);
    case model::Family::Gemma3: return families::gemma3(s);
    case model::Family::Mixtral:
    case model::Family::Qwen3Moe: return families::moe(s);
  }
  fail("forward plan: model family ", static_cast<int>(s.family), " (model_type '", s.model_type,
       "') has no forward builder; expected one of llama, mistral, qwen2, qwen3, mixtral, qwen3_moe, gemma3");
}

std::vector<std::tuple<int64_t, int64_t, int64_t>> step_linear_shapes(const ForwardPlan& p, int64_t tokens,
                                                                       int64_t logit_rows, bool fused_projections) {
  // The walker's products (forward_walk.h), less the routers (their own kernels, like the experts').
  std::set<std::tuple<int64_t, int64_t, int64_t>> out;
  for (const StepOp& op : walk_forward(p, tokens, logit_rows, fused_projections))
    if (op.kind != StepOpKind::MoeRouter) out.insert(op.products.begin(), op.products.end());
  return {out.begin(), out.end()};
}

}  // namespace synaptix::graph
