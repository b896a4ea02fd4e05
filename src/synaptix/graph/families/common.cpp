#include "synaptix/core/error.h"
#include "synaptix/graph/families/family_builders.h"

namespace synaptix::graph::families {

ForwardPlan model_part(const model::Spec& s) {
  ForwardPlan p;
  p.family = s.family;
  p.vocab = s.vocab_size;
  p.hidden = s.hidden_size;
  p.heads = s.num_heads;
  p.kv_heads = s.num_kv_heads;
  p.head_dim = s.head_dim;
  p.rms_norm_eps = s.rms_norm_eps;
  p.tied_head = s.tie_word_embeddings;
  return p;
}

AttentionStep spec_attention(const model::Spec& s, int64_t layer) {
  AttentionStep a;
  a.qkv_bias = s.attention_bias;
  a.qk_norm = s.qk_norm;
  a.rope = s.layer_uses_sliding_rope(layer) ? RopeTableId::Sliding : RopeTableId::Global;
  a.window = s.window_for_layer(layer);
  a.scale = s.attention_scale();
  a.logit_softcap = s.attn_logit_softcap;
  return a;
}

MlpStep dense_mlp(const model::Spec& s) {
  MlpStep m;
  m.activation = s.mlp_activation;
  m.inter = s.intermediate_size;
  return m;
}

MlpStep routed_mlp(const model::Spec& s) {
  MlpStep m;
  m.kind = MlpKind::Moe;
  m.activation = s.mlp_activation;
  m.inter = s.moe_intermediate_size > 0 ? s.moe_intermediate_size : s.intermediate_size;
  m.experts = s.num_experts;
  m.top_k = s.num_experts_per_tok;
  m.norm_topk_prob = s.norm_topk_prob;
  return m;
}

void refuse_foreign_features(const model::Spec& s, bool qk_norm_ok) {
  auto refuse = [&](bool set, const char* feature) {
    if (set)
      fail("forward plan: model family ", model::family_name(s.family), " (model_type '", s.model_type,
           "') has no ", feature, " in its forward, but the spec sets it");
  };
  refuse(s.post_norms, "post-attention/post-MLP norms (post_norms)");
  refuse(s.norm_weight_offset != 0, "(offset + w) RMSNorm weights (norm_weight_offset)");
  refuse(s.mlp_activation != model::Activation::Silu, "GELU-tanh MLP (mlp_activation)");
  refuse(s.embedding_scale != 1.0, "embedding scale (embedding_scale)");
  refuse(s.sliding_rope_theta > 0, "sliding-window RoPE base (sliding_rope_theta)");
  refuse(s.attn_logit_softcap > 0, "attention logit soft-cap (attn_logit_softcap)");
  refuse(s.final_logit_softcap > 0, "final logit soft-cap (final_logit_softcap)");
  refuse(!qk_norm_ok && s.qk_norm, "q/k norm (qk_norm)");
}

}  // namespace synaptix::graph::families
