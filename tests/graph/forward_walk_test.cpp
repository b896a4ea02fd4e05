// The forward walker (graph/forward_walk.h) over every fixture's config.json (made by transformers): its ops
// come in the order a decoder computes them, its linear products are the ones the op graph derives (the
// tuner's op list) and the ones the fixture's config gives (q, k, v, o, gate, up, down, router, head), and
// step_linear_shapes (the CUDA executor's and the whole-step tuner's shape list) is its products.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "support/fixture_models.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/graph/forward_walk.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/model/spec.h"

namespace synaptix::graph {
namespace {

model::Spec fixture(const std::string& name) {
  return model::load_spec((std::filesystem::path(SYNAPTIX_SHARED_DIR) / "fixtures/models" / name / "config.json").string());
}

using Counts = std::map<ProductShape, int64_t>;

}  // namespace

TEST(ForwardWalk, ProductsAreTheOpGraphsLinearOpsForEveryFixture) {
  const auto names = synaptix::testing::fixture_model_names();
  ASSERT_GE(names.size(), 8u);
  for (const std::string& name : names) {
    const model::Spec s = fixture(name);
    const ForwardPlan p = build_forward_plan(s);
    for (const Bucket& b : decode_buckets()) {
      // The op graph's linear ops (router included; experts are their own kind) with their layer counts.
      Counts want;
      int64_t attention = 0, qk_norm = 0, post_attention = 0, post_mlp = 0, moe = 0;
      for (const Op& op : decode_graph(s, b, 512).ops) {
        if (op.kind == OpKind::Linear) want[{op.m, op.n, op.k}] += op.count;
        if (op.kind == OpKind::Attention) attention += op.count;
        if (op.name == "layers.*.self_attn.qk_norm") qk_norm += op.count;
        if (op.name == "layers.*.post_attention_layernorm" && op.kind == OpKind::RmsNorm) post_attention += op.count;
        if (op.name == "layers.*.post_feedforward_layernorm") post_mlp += op.count;
        if (op.kind == OpKind::MoeRouter) moe += op.count;
      }
      Counts got;
      std::map<StepOpKind, int64_t> kinds;
      for (const StepOp& op : walk_forward(p, b.hi, b.hi, false)) {
        for (const auto& shape : op.products) ++got[shape];
        ++kinds[op.kind];
      }
      EXPECT_EQ(got, want) << name << " m=" << b.hi;
      EXPECT_EQ(kinds[StepOpKind::Attention], attention) << name;
      EXPECT_EQ(kinds[StepOpKind::QkNorm], qk_norm) << name;
      EXPECT_EQ(kinds[StepOpKind::PostAttentionNorm], post_attention) << name;
      EXPECT_EQ(kinds[StepOpKind::PostMlpNorm], post_mlp) << name;
      EXPECT_EQ(kinds[StepOpKind::MoeRouter], moe) << name;
      EXPECT_EQ(kinds[StepOpKind::MoeExperts], moe) << name;
      EXPECT_EQ(kinds[StepOpKind::AttentionNorm], s.num_layers) << name;
      EXPECT_EQ(kinds[StepOpKind::ScaleEmbeddings], p.embedding_scale != 1.0 ? 1 : 0) << name;
    }
  }
}

TEST(ForwardWalk, ProductsAreTheConfigsProjections) {
  // From config.json's own numbers, not the plan's: llama (dense) and qwen3-moe (routed).
  const model::Spec s = fixture("llama");
  const int64_t h = s.hidden_size, q = s.num_heads * s.head_dim, kv = s.num_kv_heads * s.head_dim;
  const auto ops = walk_forward(build_forward_plan(s), 3, 2, false);
  ASSERT_GT(ops.size(), 3u);
  EXPECT_EQ(ops.front().kind, StepOpKind::Embed);
  EXPECT_EQ(ops.back().kind, StepOpKind::LmHead);
  EXPECT_EQ(ops.back().products, (std::vector<ProductShape>{{2, s.vocab_size, h}}));
  EXPECT_EQ(ops.back().rows, 2);
  // Layer 0 in order, each product (m, n, k) as config.json sizes it.
  std::vector<StepOpKind> layer0;
  for (const StepOp& op : ops)
    if (op.layer == 0) layer0.push_back(op.kind);
  using K = StepOpKind;
  EXPECT_EQ(layer0, (std::vector<K>{K::AttentionNorm, K::QkvProjection, K::RopeKvWrite, K::Attention, K::OutProjection,
                                    K::MlpNorm, K::GateUpProjection, K::GatedActivation, K::DownProjection}));
  EXPECT_EQ(ops[2].products, (std::vector<ProductShape>{{3, q, h}, {3, kv, h}, {3, kv, h}}));
  const auto fused = walk_forward(build_forward_plan(s), 3, 2, true);
  EXPECT_EQ(fused[2].products, (std::vector<ProductShape>{{3, q + 2 * kv, h}}));
  EXPECT_EQ(fused[7].products, (std::vector<ProductShape>{{3, 2 * s.intermediate_size, h}}));
  EXPECT_EQ(fused[9].products, (std::vector<ProductShape>{{3, h, s.intermediate_size}}));
  EXPECT_TRUE(walk_forward(build_forward_plan(s), 3, 0, false).back().kind != StepOpKind::LmHead) << "no logit rows: no head";

  const model::Spec g = fixture("gemma3");
  std::vector<StepOpKind> g0;
  for (const StepOp& op : walk_forward(build_forward_plan(g), 1, 1, false))
    if (op.layer == 0) g0.push_back(op.kind);
  EXPECT_EQ(g0, (std::vector<K>{K::AttentionNorm, K::QkvProjection, K::QkNorm, K::RopeKvWrite, K::Attention,
                                K::OutProjection, K::PostAttentionNorm, K::MlpNorm, K::GateUpProjection,
                                K::GatedActivation, K::DownProjection, K::PostMlpNorm}));
}

TEST(ForwardWalk, StepLinearShapesAreTheWalkersProductsLessTheRouters) {
  for (const std::string& name : synaptix::testing::fixture_model_names()) {
    const ForwardPlan p = build_forward_plan(fixture(name));
    for (const auto& [tokens, rows] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {8, 8}, {100, 3}, {64, 0}})
      for (bool fused : {false, true}) {
        std::set<ProductShape> want;
        for (const StepOp& op : walk_forward(p, tokens, rows, fused))
          if (op.kind != StepOpKind::MoeRouter) want.insert(op.products.begin(), op.products.end());
        const auto got = step_linear_shapes(p, tokens, rows, fused);
        EXPECT_EQ(std::set<ProductShape>(got.begin(), got.end()), want) << name;
        for (const auto& [m, n, k] : got) EXPECT_TRUE(m == tokens || m == rows) << name;
      }
  }
}

}  // namespace synaptix::graph
