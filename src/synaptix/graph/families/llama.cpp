// Llama, Mistral and Qwen2: x += attn(rmsnorm(x)); x += mlp(rmsnorm(x)), SwiGLU MLP, one RoPE table. Qwen2
// adds q/k/v biases, Mistral (and Qwen2 where configured) a sliding window: both read from the spec.
#include "synaptix/graph/families/family_builders.h"

namespace synaptix::graph::families {

ForwardPlan llama(const model::Spec& s) {
  refuse_foreign_features(s, /*qk_norm_ok=*/false);
  ForwardPlan p = model_part(s);
  for (int64_t l = 0; l < s.num_layers; ++l) p.layers.push_back({spec_attention(s, l), false, dense_mlp(s), false});
  return p;
}

}  // namespace synaptix::graph::families
