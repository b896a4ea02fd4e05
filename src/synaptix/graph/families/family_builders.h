#pragma once
// One forward builder per model family (graph::build_forward_plan picks the spec's), and the pieces they share.
#include <cstdint>

#include "synaptix/graph/forward_plan.h"

namespace synaptix::graph::families {

ForwardPlan llama(const model::Spec& s);   // llama, mistral, qwen2: the plain pre-norm decoder
ForwardPlan qwen3(const model::Spec& s);   // + per-head q/k norms
ForwardPlan gemma3(const model::Spec& s);  // + post-norms, GELU-tanh, scaled embeddings, local RoPE base
ForwardPlan moe(const model::Spec& s);     // mixtral, qwen3_moe: routed experts in place of the dense MLP

// The model-level part every family shares: dimensions, eps, tied head; no embedding scale, offset or cap.
ForwardPlan model_part(const model::Spec& s);
// Attention as the spec describes it for `layer`: biases, q/k norms, the window, the global RoPE table, the
// spec's attention scale and soft-cap.
AttentionStep spec_attention(const model::Spec& s, int64_t layer);
MlpStep dense_mlp(const model::Spec& s);
MlpStep routed_mlp(const model::Spec& s);
// Fails naming the family when the spec sets a feature of another family's forward (gemma3's post-norms,
// norm offset, GELU-tanh MLP, embedding scale, local RoPE base, soft-caps; q/k norms where `qk_norm_ok` is
// false).
void refuse_foreign_features(const model::Spec& s, bool qk_norm_ok);

}  // namespace synaptix::graph::families
