// The fused generators (gate_up_silu, add_rmsnorm, attention, lm_head_argmax): sampled points of each
// declared space compile and match the op's reference on shapes with tails; a kernel with a planted bug is
// rejected by the verify step, in-process and as an isolated trial.
#include <gtest/gtest.h>

#include <random>

#include "synaptix/backend/module_builder.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/tune/measurer.h"
#include "synaptix/tune/search_space.h"
#include "synaptix/tune/trial_runner.h"
#include "tune_test_util.h"

namespace synaptix::tune {
namespace {

graph::Op op_of(graph::OpKind kind, int64_t m_lo, int64_t m, int64_t n, int64_t k, DType w = DType::BF16) {
  graph::Op op = testing::linear_op(m_lo, m, n, k, w);
  op.kind = kind;
  return op;
}

graph::Op attention_op(int64_t m_lo, int64_t m, int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t ctx) {
  graph::Op op = op_of(graph::OpKind::Attention, m_lo, m, heads, head_dim, DType::F32);
  op.kv_heads = kv_heads;
  op.ctx = ctx;
  return op;
}

// Every isa's first point, then `random` more points of the space (all of them when the space is smaller).
std::vector<Point> sample(const SearchSpace& space, size_t random, std::mt19937_64& rng) {
  if (space.points.size() <= random + 3) return space.points;
  std::vector<Point> pick;
  std::set<std::string> isas;
  for (const auto& p : space.points)
    if (p.params.contains("isa") && isas.insert(p.params["isa"].get<std::string>()).second) pick.push_back(p);
  for (size_t i = 0; i < random; ++i) pick.push_back(space.points[rng() % space.points.size()]);
  return pick;
}

int check_sampled(const std::vector<graph::Op>& ops, size_t random, const std::string& tag) {
  const auto cpu = hw::probe_cpu(false);
  backend::ModuleBuilder builder(testing::scratch_dir(tag));
  ThreadPool pool(2);
  std::mt19937_64 rng(99);
  int checked = 0;
  for (const auto& op : ops) {
    auto space = build_space(op, cpu, kernels::cpu_generators());
    EXPECT_FALSE(space.points.empty()) << op.signature();
    const auto pick = sample(space, random, rng);
    std::vector<backend::ModuleSource> srcs;
    for (const auto& p : pick) {
      auto ks = kernels::cpu_generator(p.generator).emit(op, p.params);
      srcs.push_back({ks.code, ks.libs});
    }
    auto built = builder.build_all(srcs, 2);
    for (size_t i = 0; i < pick.size(); ++i) {
      EXPECT_TRUE(built[i].ok) << pick[i].key() << "\n" << built[i].error;
      if (!built[i].ok) continue;
      EXPECT_EQ(verify_impl(op, built[i].path, pool, rng()), "") << op.signature() << " " << pick[i].key();
      ++checked;
    }
    // The untuned default path of the op kind passes its own verify too. In a child, as the tuner runs it:
    // the defaults use ThreadPool::global(), which later forked trials can only create if this process never did.
    MeasureOptions quick;
    quick.max_seconds = 0.01;
    RunLimits lim;
    lim.threads = 1;
    const auto d = run_trial(op, "", quick, lim, 5);
    EXPECT_EQ(d.status, TrialStatus::Ok) << op.signature() << " default: " << d.message;
  }
  return checked;
}

// A correct generated source with one planted bug: `from` replaced by `to` (which must occur).
std::string planted(const graph::Op& op, const std::string& gen, const nlohmann::json& p, const std::string& from,
                    const std::string& to) {
  std::string src = kernels::cpu_generator(gen).emit(op, p).code;
  const auto at = src.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) src.replace(at, from.size(), to);
  return src;
}

}  // namespace

TEST(FusedGenerators, GateUpSiluPointsMatchTheReference) {
  const int n = check_sampled({op_of(graph::OpKind::GateUpSilu, 1, 1, 37, 70),
                               op_of(graph::OpKind::GateUpSilu, 5, 16, 48, 96, DType::F16),
                               op_of(graph::OpKind::GateUpSilu, 65, 80, 20, 64, DType::F32)},
                              5, "gu");
  EXPECT_GE(n, 15);
}

TEST(FusedGenerators, AddRmsNormPointsMatchTheReference) {
  const int n = check_sampled({op_of(graph::OpKind::AddRmsNorm, 1, 1, 100, 0), op_of(graph::OpKind::AddRmsNorm, 17, 64, 72, 0)},
                              8, "arn");
  EXPECT_GE(n, 16);
}

TEST(FusedGenerators, AttentionPointsMatchTheReference) {
  // GQA (4 query heads per KV head), a head_dim with a tail for every isa, and plain MHA; decode and prefill.
  const int n = check_sampled({attention_op(1, 1, 8, 2, 20, 128), attention_op(5, 16, 4, 4, 32, 512),
                               attention_op(65, 80, 6, 2, 16, 128)},
                              8, "att");
  EXPECT_GE(n, 24);
}

TEST(FusedGenerators, LmHeadArgmaxPointsMatchTheReference) {
  const int n = check_sampled({op_of(graph::OpKind::LmHeadArgmax, 1, 1, 1000, 72),
                               op_of(graph::OpKind::LmHeadArgmax, 2, 4, 515, 64, DType::F16)},
                              5, "lm");
  EXPECT_GE(n, 10);
}

TEST(FusedGenerators, PlantedBugsAreRejectedByVerify) {
  backend::ModuleBuilder builder(testing::scratch_dir("bugs"));
  ThreadPool pool(2);
  struct Case { graph::Op op; std::string gen; nlohmann::json p; std::string from, to; };
  const std::vector<Case> cases{
      {op_of(graph::OpKind::GateUpSilu, 2, 4, 24, 40), "gate_up_silu_tiled",
       {{"isa", "scalar"}, {"m_tile", 2}, {"n_tile", 2}, {"k_unroll", 1}, {"rows_per_task", 8}, {"threads", "all"},
        {"prefetch", 0}, {"m_block", 0}},
       "expf(-g)", "expf(g)"},
      {op_of(graph::OpKind::AddRmsNorm, 2, 4, 40, 0), "add_rmsnorm_vec",
       {{"isa", "scalar"}, {"unroll", 2}, {"rows_per_task", 1}, {"threads", "all"}},
       "vstore(rr + i + u * VL, v);", ""},
      {attention_op(1, 2, 4, 2, 16, 100), "attention_paged",
       {{"isa", "scalar"}, {"split", "kv_head"}, {"threads", "all"}, {"prefetch", false}},
       "? p - c->window + 1 : 0", "? p - c->window : 0"},
      {op_of(graph::OpKind::LmHeadArgmax, 1, 2, 300, 32), "lm_head_argmax",
       {{"isa", "scalar"}, {"m_tile", 1}, {"n_tile", 2}, {"k_unroll", 1}, {"rows_per_task", 64}, {"prefetch", 0}},
       "s > best[i].v", "s < best[i].v"},
  };
  for (const auto& c : cases) {
    auto b = builder.build({planted(c.op, c.gen, c.p, c.from, c.to), {}});
    ASSERT_TRUE(b.ok) << b.error;
    EXPECT_NE(verify_impl(c.op, b.path, pool, 11), "") << c.gen << ": the planted bug passed verify";
  }
  // Through the isolated trial, as the tuner runs it: a wrong result, with the reason.
  RunLimits lim;
  lim.threads = 1;
  auto b = builder.build({planted(cases[0].op, cases[0].gen, cases[0].p, cases[0].from, cases[0].to), {}});
  auto o = run_trial(cases[0].op, b.path, {}, lim, 3);
  EXPECT_EQ(o.status, TrialStatus::WrongResult);
  EXPECT_NE(o.message.find("reference"), std::string::npos) << o.message;
}

}  // namespace synaptix::tune
