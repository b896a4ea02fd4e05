// The forward walker's op sequence, which an executor's fused kernels rely on (engine/cuda_step_launches.h
// covers an op and the ops right after it): for every fixture, the whole step in order as its config.json
// (made by transformers) describes the family's decoder, so each pair a kernel fuses is adjacent (attention
// norm then q|k|v; q/k norm, RoPE and KV write, attention; MLP norm, gate|up, activation, down or router,
// experts; final norm then head), and a handler is given the ops after each one.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/fixture_models.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/graph/forward_walk.h"
#include "synaptix/model/spec.h"

namespace synaptix::graph {
namespace {

using K = StepOpKind;

using synaptix::testing::fixture_model_dir;
using synaptix::testing::fixture_model_names;

nlohmann::json config(const std::string& name) {
  std::ifstream f(fixture_model_dir(name) / "config.json");
  return nlohmann::json::parse(f);
}

// Layer l's ops as transformers' modeling file for the config's model_type computes them.
std::vector<K> layer_ops(const nlohmann::json& c, int64_t l) {
  const std::string type = c.at("model_type");
  const bool gemma = type == "gemma3_text" || type == "gemma3";
  const bool qk_norm = gemma || type == "qwen3" || type == "qwen3_moe";
  bool moe = type == "mixtral";
  if (type == "qwen3_moe") {
    const auto only = c.value("mlp_only_layers", std::vector<int64_t>{});
    const int64_t step = c.value("decoder_sparse_step", int64_t{1});
    moe = std::find(only.begin(), only.end(), l) == only.end() && step > 0 && (l + 1) % step == 0;
  }
  std::vector<K> ops{K::AttentionNorm, K::QkvProjection};
  if (qk_norm) ops.push_back(K::QkNorm);
  ops.insert(ops.end(), {K::RopeKvWrite, K::Attention, K::OutProjection});
  if (gemma) ops.push_back(K::PostAttentionNorm);
  ops.push_back(K::MlpNorm);
  if (moe) ops.insert(ops.end(), {K::MoeRouter, K::MoeExperts});
  else ops.insert(ops.end(), {K::GateUpProjection, K::GatedActivation, K::DownProjection});
  if (gemma) ops.push_back(K::PostMlpNorm);
  return ops;
}

}  // namespace

TEST(ForwardWalkSequence, EveryFixtureWalksItsDecoderInOrder) {
  const auto names = fixture_model_names();
  ASSERT_GE(names.size(), 8u);
  for (const std::string& name : names) {
    const nlohmann::json c = config(name);
    const ForwardPlan p = build_forward_plan(model::load_spec((fixture_model_dir(name) / "config.json").string()));
    const int64_t layers = c.at("num_hidden_layers");
    const std::string type = c.at("model_type");
    std::vector<K> want{K::Embed};
    if (type == "gemma3_text") want.push_back(K::ScaleEmbeddings);
    std::vector<int64_t> want_layer(want.size(), -1);
    for (int64_t l = 0; l < layers; ++l)
      for (K k : layer_ops(c, l)) {
        want.push_back(k);
        want_layer.push_back(l);
      }
    for (const auto& [tokens, rows] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {8, 8}, {100, 3}, {5, 0}})
      for (bool fused : {false, true}) {
        std::vector<K> w = want;
        std::vector<int64_t> wl = want_layer;
        if (rows > 0) {
          w.insert(w.end(), {K::FinalNorm, K::LmHead});
          wl.insert(wl.end(), {-1, -1});
        }
        std::vector<K> got;
        std::vector<int64_t> got_layer;
        for (const StepOp& op : walk_forward(p, tokens, rows, fused)) {
          got.push_back(op.kind);
          got_layer.push_back(op.layer);
          EXPECT_EQ(op.rows, op.kind == K::FinalNorm || op.kind == K::LmHead ? rows : tokens) << name;
          EXPECT_EQ(op.step != nullptr, op.layer >= 0) << name;
        }
        EXPECT_EQ(got, w) << name << " tokens=" << tokens << " rows=" << rows;
        EXPECT_EQ(got_layer, wl) << name;
      }
  }
}

TEST(ForwardWalkSequence, FusedPairsAreAdjacentOpsOfOneLayer) {
  // The pairs the CUDA executor's kernels fuse, checked as its planner checks them (next_ops_are).
  for (const std::string& name : fixture_model_names()) {
    const ForwardPlan p = build_forward_plan(model::load_spec((fixture_model_dir(name) / "config.json").string()));
    const std::vector<StepOp> ops = walk_forward(p, 4, 4, true);
    const std::span<const StepOp> all(ops);
    int64_t pairs = 0;
    for (size_t i = 0; i < ops.size(); ++i) {
      const StepOp& op = ops[i];
      const auto next = all.subspan(i + 1);
      switch (op.kind) {
        case K::AttentionNorm:
          EXPECT_TRUE(next_ops_are(next, op.layer, {K::QkvProjection})) << name;
          ++pairs;
          break;
        case K::QkNorm:
          EXPECT_TRUE(next_ops_are(next, op.layer, {K::RopeKvWrite, K::Attention})) << name;
          EXPECT_EQ(ops[i - 1].kind, K::QkvProjection) << name;
          ++pairs;
          break;
        case K::RopeKvWrite:
          EXPECT_TRUE(next_ops_are(next, op.layer, {K::Attention})) << name;
          ++pairs;
          break;
        case K::MlpNorm:
          EXPECT_TRUE(next_ops_are(next, op.layer, {K::GateUpProjection, K::GatedActivation, K::DownProjection}) ||
                      next_ops_are(next, op.layer, {K::MoeRouter, K::MoeExperts}))
              << name;
          ++pairs;
          break;
        case K::OutProjection:
          EXPECT_EQ(op.step->post_attention_norm, next_ops_are(next, op.layer, {K::PostAttentionNorm})) << name;
          break;
        case K::DownProjection:
          EXPECT_EQ(op.step->post_mlp_norm, next_ops_are(next, op.layer, {K::PostMlpNorm})) << name;
          break;
        case K::FinalNorm:
          EXPECT_TRUE(next_ops_are(next, -1, {K::LmHead})) << name;
          EXPECT_EQ(next.size(), 1u) << name << ": the head is the step's last op";
          ++pairs;
          break;
        default: break;
      }
    }
    EXPECT_GE(pairs, 3 * static_cast<int64_t>(p.layers.size()) + 1) << name;
  }
}

TEST(ForwardWalkSequence, NextOpsAreChecksKindsOrderAndLayer) {
  const ForwardPlan p = build_forward_plan(model::load_spec((fixture_model_dir("llama") / "config.json").string()));
  const std::vector<StepOp> ops = walk_forward(p, 1, 1, true);
  const std::span<const StepOp> all(ops);
  // ops[1] is layer 0's attention norm; the q|k|v product follows it.
  ASSERT_EQ(ops[1].kind, K::AttentionNorm);
  EXPECT_TRUE(next_ops_are(all.subspan(2), 0, {K::QkvProjection, K::RopeKvWrite, K::Attention}));
  EXPECT_FALSE(next_ops_are(all.subspan(2), 1, {K::QkvProjection})) << "another layer's";
  EXPECT_FALSE(next_ops_are(all.subspan(2), 0, {K::RopeKvWrite})) << "not the next op";
  EXPECT_FALSE(next_ops_are(all.subspan(2), 0, {K::RopeKvWrite, K::QkvProjection})) << "order";
  EXPECT_FALSE(next_ops_are(all.subspan(ops.size() - 1), -1, {K::LmHead, K::LmHead})) << "past the end";
  EXPECT_TRUE(next_ops_are(all.subspan(ops.size()), -1, {}));
}

TEST(ForwardWalkSequence, HandlerIsGivenTheOpsAfterEachOp) {
  const ForwardPlan p = build_forward_plan(model::load_spec((fixture_model_dir("qwen3-moe") / "config.json").string()));
  const std::vector<StepOp> ops = walk_forward(p, 2, 1, true);
  struct Record final : StepOpHandler {
    std::vector<StepOpKind> kinds;
    std::vector<std::vector<StepOpKind>> nexts;
    void on(const StepOp& op, std::span<const StepOp> next) override {
      kinds.push_back(op.kind);
      std::vector<StepOpKind> n;
      for (const StepOp& o : next) n.push_back(o.kind);
      nexts.push_back(n);
    }
  } r;
  walk_forward(p, 2, 1, true, r);
  ASSERT_EQ(r.kinds.size(), ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    EXPECT_EQ(r.kinds[i], ops[i].kind);
    std::vector<StepOpKind> rest;
    for (size_t j = i + 1; j < ops.size(); ++j) rest.push_back(ops[j].kind);
    EXPECT_EQ(r.nexts[i], rest) << i;
  }
}

}  // namespace synaptix::graph
