// Qwen3: Llama's layer with a per-head RMSNorm on q and k before RoPE.
#include "synaptix/graph/families/family_builders.h"

namespace synaptix::graph::families {

ForwardPlan qwen3(const model::Spec& s) {
  refuse_foreign_features(s, /*qk_norm_ok=*/true);
  ForwardPlan p = model_part(s);
  for (int64_t l = 0; l < s.num_layers; ++l) {
    AttentionStep a = spec_attention(s, l);
    a.qk_norm = true;
    p.layers.push_back({a, false, dense_mlp(s), false});
  }
  return p;
}

}  // namespace synaptix::graph::families
