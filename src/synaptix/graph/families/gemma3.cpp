// Gemma 3: embeddings scaled by sqrt(hidden); every RMSNorm by (1 + w) (0 offset for GGUF files, whose converter
// added the 1); q/k norms; the attention and MLP outputs normed again before each residual add; a GELU-tanh
// gated MLP; sliding-window layers rotating by their own RoPE base between global ones; the attention scale
// 1/sqrt(query_pre_attn_scalar); soft-caps on the attention scores and final logits when the config sets them.
#include "synaptix/core/error.h"
#include "synaptix/graph/families/family_builders.h"

namespace synaptix::graph::families {

ForwardPlan gemma3(const model::Spec& s) {
  if (!s.post_norms || !s.qk_norm || s.mlp_activation != model::Activation::GeluTanh)
    fail("forward plan: a gemma3 spec must set post_norms, qk_norm and the GELU-tanh MLP (model_type '",
         s.model_type, "' has post_norms=", s.post_norms, " qk_norm=", s.qk_norm, ")");
  ForwardPlan p = model_part(s);
  p.norm_weight_offset = s.norm_weight_offset;
  p.embedding_scale = s.embedding_scale;
  p.final_logit_softcap = s.final_logit_softcap;
  for (int64_t l = 0; l < s.num_layers; ++l) p.layers.push_back({spec_attention(s, l), true, dense_mlp(s), true});
  return p;
}

}  // namespace synaptix::graph::families
