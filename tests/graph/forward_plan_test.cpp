// The forward plan of each family from its fixture's config.json (made by transformers): which steps each
// layer has, and that a spec its family's forward cannot compute is refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <tuple>

#include "synaptix/core/error.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/model/spec.h"

namespace synaptix::graph {
namespace {

model::Spec fixture(const std::string& name) {
  return model::load_spec((std::filesystem::path(SYNAPTIX_SHARED_DIR) / "fixtures/models" / name / "config.json").string());
}

std::string error_of(const model::Spec& s) {
  try {
    build_forward_plan(s);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ForwardPlan, LlamaIsThePlainPreNormDecoder) {
  const model::Spec s = fixture("llama");
  const ForwardPlan p = build_forward_plan(s);
  ASSERT_EQ(static_cast<int64_t>(p.layers.size()), s.num_layers);
  EXPECT_EQ(p.embedding_scale, 1.0);
  EXPECT_EQ(p.norm_weight_offset, 0.0);
  EXPECT_FALSE(p.has_post_norms());
  EXPECT_FALSE(p.uses_sliding_rope());
  for (const LayerStep& l : p.layers) {
    EXPECT_FALSE(l.attention.qk_norm || l.attention.qkv_bias);
    EXPECT_EQ(l.attention.window, 0);
    EXPECT_DOUBLE_EQ(l.attention.scale, 1.0 / std::sqrt(static_cast<double>(s.head_dim)));
    EXPECT_EQ(l.mlp.kind, MlpKind::Dense);
    EXPECT_EQ(l.mlp.activation, model::Activation::Silu);
    EXPECT_EQ(l.mlp.inter, s.intermediate_size);
  }
}

TEST(ForwardPlan, FamilyFeaturesReachTheLayers) {
  for (const LayerStep& l : build_forward_plan(fixture("qwen2")).layers) EXPECT_TRUE(l.attention.qkv_bias);
  for (const LayerStep& l : build_forward_plan(fixture("qwen3")).layers) EXPECT_TRUE(l.attention.qk_norm);
  for (const LayerStep& l : build_forward_plan(fixture("mistral-sliding-window")).layers) EXPECT_EQ(l.attention.window, 8);
  for (const char* moe : {"mixtral-moe", "qwen3-moe"}) {
    const model::Spec s = fixture(moe);
    for (const LayerStep& l : build_forward_plan(s).layers) {
      EXPECT_EQ(l.mlp.kind, MlpKind::Moe) << moe;
      EXPECT_EQ(l.mlp.experts, s.num_experts) << moe;
      EXPECT_EQ(l.mlp.top_k, s.num_experts_per_tok) << moe;
    }
  }
}

TEST(ForwardPlan, Gemma3HasItsOwnNormsActivationScalesAndRopeTables) {
  const model::Spec s = fixture("gemma3");
  const ForwardPlan p = build_forward_plan(s);
  EXPECT_EQ(p.norm_weight_offset, 1.0);
  EXPECT_NEAR(p.embedding_scale, 8.0, 1e-6);  // sqrt(hidden 64)
  EXPECT_TRUE(p.has_post_norms());
  EXPECT_TRUE(p.uses_sliding_rope());
  ASSERT_EQ(p.layers.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const LayerStep& l = p.layers[i];
    const bool global = i == 3;  // layer_types: three sliding layers, then a full one
    EXPECT_EQ(l.attention.rope, global ? RopeTableId::Global : RopeTableId::Sliding) << i;
    EXPECT_EQ(l.attention.window, global ? 0 : 6) << i;
    EXPECT_DOUBLE_EQ(l.attention.scale, 0.25) << i;  // 1/sqrt(query_pre_attn_scalar 16)
    EXPECT_TRUE(l.attention.qk_norm && l.post_attention_norm && l.post_mlp_norm) << i;
    EXPECT_EQ(l.mlp.activation, model::Activation::GeluTanh) << i;
  }
}

TEST(ForwardPlan, ASpecBeyondItsFamilysForwardIsRefused) {
  model::Spec s = fixture("llama");
  s.post_norms = true;
  EXPECT_NE(error_of(s).find("llama"), std::string::npos) << error_of(s);
  EXPECT_NE(error_of(s).find("post_norms"), std::string::npos) << error_of(s);
  s = fixture("mixtral-moe");
  s.mlp_activation = model::Activation::GeluTanh;
  EXPECT_NE(error_of(s).find("mlp_activation"), std::string::npos) << error_of(s);
  s = fixture("gemma3");
  s.post_norms = false;
  EXPECT_NE(error_of(s).find("gemma3"), std::string::npos) << error_of(s);
  s = fixture("llama");
  s.family = static_cast<model::Family>(7);  // no such family: no builder
  EXPECT_NE(error_of(s).find("no forward builder"), std::string::npos) << error_of(s);
  s = fixture("llama");
  s.num_kv_heads = 0;
  EXPECT_NE(error_of(s).find("num_kv_heads"), std::string::npos) << error_of(s);
}

TEST(ForwardPlan, StepLinearShapesFollowTheLayers) {
  const model::Spec s = fixture("llama");
  const ForwardPlan p = build_forward_plan(s);
  const int64_t h = s.hidden_size, f = s.intermediate_size;
  using T = std::tuple<int64_t, int64_t, int64_t>;
  const auto fused = step_linear_shapes(p, 3, 2, true);
  for (const T& want : {T{3, s.q_dim() + 2 * s.kv_dim(), h}, T{3, h, s.q_dim()}, T{3, 2 * f, h}, T{3, h, f}, T{2, s.vocab_size, h}})
    EXPECT_NE(std::find(fused.begin(), fused.end(), want), fused.end());
  const auto apart = step_linear_shapes(p, 3, 0, false);
  for (const T& want : {T{3, s.q_dim(), h}, T{3, s.kv_dim(), h}, T{3, f, h}})
    EXPECT_NE(std::find(apart.begin(), apart.end(), want), apart.end());
  for (const auto& [m, n, k] : apart) EXPECT_NE(n, s.vocab_size);  // no logit rows: no head
  // Routed experts are not listed: the MoE fixture's products are attention and the head only.
  const auto moe = step_linear_shapes(build_forward_plan(fixture("mixtral-moe")), 1, 1, true);
  EXPECT_EQ(moe.size(), 3u);
}

}  // namespace
}  // namespace synaptix::graph
