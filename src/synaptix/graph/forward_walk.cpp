#include "synaptix/graph/forward_walk.h"

namespace synaptix::graph {

const char* step_op_name(StepOpKind k) {
  switch (k) {
    case StepOpKind::Embed: return "embed";
    case StepOpKind::ScaleEmbeddings: return "scale_embeddings";
    case StepOpKind::AttentionNorm: return "attention_norm";
    case StepOpKind::QkvProjection: return "qkv_projection";
    case StepOpKind::QkNorm: return "qk_norm";
    case StepOpKind::RopeKvWrite: return "rope_kv_write";
    case StepOpKind::Attention: return "attention";
    case StepOpKind::OutProjection: return "out_projection";
    case StepOpKind::PostAttentionNorm: return "post_attention_norm";
    case StepOpKind::MlpNorm: return "mlp_norm";
    case StepOpKind::GateUpProjection: return "gate_up_projection";
    case StepOpKind::GatedActivation: return "gated_activation";
    case StepOpKind::DownProjection: return "down_projection";
    case StepOpKind::MoeRouter: return "moe_router";
    case StepOpKind::MoeExperts: return "moe_experts";
    case StepOpKind::PostMlpNorm: return "post_mlp_norm";
    case StepOpKind::FinalNorm: return "final_norm";
    case StepOpKind::LmHead: return "lm_head";
  }
  return "?";
}

bool next_ops_are(std::span<const StepOp> next, int64_t layer, std::initializer_list<StepOpKind> kinds) {
  if (next.size() < kinds.size()) return false;
  size_t i = 0;
  for (StepOpKind k : kinds) {
    if (next[i].kind != k || next[i].layer != layer) return false;
    ++i;
  }
  return true;
}

std::vector<StepOp> walk_forward(const ForwardPlan& p, int64_t tokens, int64_t logit_rows, bool fused) {
  std::vector<StepOp> ops;
  ops.reserve(2 + 13 * p.layers.size() + 2);
  const int64_t m = tokens, hid = p.hidden;
  auto model_op = [&](StepOpKind k, int64_t rows, std::vector<ProductShape> products = {}) {
    ops.push_back(StepOp{k, -1, nullptr, std::move(products), rows});
  };
  model_op(StepOpKind::Embed, m);
  if (p.embedding_scale != 1.0) model_op(StepOpKind::ScaleEmbeddings, m);
  for (size_t i = 0; i < p.layers.size(); ++i) {
    const LayerStep& L = p.layers[i];
    auto op = [&](StepOpKind k, std::vector<ProductShape> products = {}) {
      ops.push_back(StepOp{k, static_cast<int64_t>(i), &L, std::move(products), m});
    };
    op(StepOpKind::AttentionNorm);
    if (fused) op(StepOpKind::QkvProjection, {{m, p.q_dim() + 2 * p.kv_dim(), hid}});
    else op(StepOpKind::QkvProjection, {{m, p.q_dim(), hid}, {m, p.kv_dim(), hid}, {m, p.kv_dim(), hid}});
    if (L.attention.qk_norm) op(StepOpKind::QkNorm);
    op(StepOpKind::RopeKvWrite);
    op(StepOpKind::Attention);
    op(StepOpKind::OutProjection, {{m, hid, p.q_dim()}});
    if (L.post_attention_norm) op(StepOpKind::PostAttentionNorm);
    op(StepOpKind::MlpNorm);
    if (L.mlp.kind == MlpKind::Dense) {
      if (fused) op(StepOpKind::GateUpProjection, {{m, 2 * L.mlp.inter, hid}});
      else op(StepOpKind::GateUpProjection, {{m, L.mlp.inter, hid}, {m, L.mlp.inter, hid}});
      op(StepOpKind::GatedActivation);
      op(StepOpKind::DownProjection, {{m, hid, L.mlp.inter}});
    } else {
      op(StepOpKind::MoeRouter, {{m, L.mlp.experts, hid}});
      op(StepOpKind::MoeExperts);
    }
    if (L.post_mlp_norm) op(StepOpKind::PostMlpNorm);
  }
  if (logit_rows > 0) {
    model_op(StepOpKind::FinalNorm, logit_rows);
    model_op(StepOpKind::LmHead, logit_rows, {{logit_rows, p.vocab, hid}});
  }
  return ops;
}

void walk_forward(const ForwardPlan& p, int64_t tokens, int64_t logit_rows, bool fused, StepOpHandler& h) {
  const std::vector<StepOp> ops = walk_forward(p, tokens, logit_rows, fused);
  const std::span<const StepOp> all(ops);
  for (size_t i = 0; i < ops.size(); ++i) h.on(ops[i], all.subspan(i + 1));
}

}  // namespace synaptix::graph
