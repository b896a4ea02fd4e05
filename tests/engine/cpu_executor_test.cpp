// The executor batches several sequences of different lengths in one step (prefill chunks and decode tokens
// mixed, scattered KV blocks); each sequence's logits must equal running it alone. With a recipe's fused
// kernels it must give the same logits as with its defaults.
#include "synaptix/engine/cpu_executor.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "support/recipe_kernel.h"
#include "synaptix/backend/module_builder.h"
#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/model/model.h"
#include "synaptix/registry/recipe_kernels.h"

using namespace synaptix;

namespace {
std::unique_ptr<model::Model> load(const std::string& name) {
  return model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + name);
}

// Logits of the last token after feeding `toks` alone, one prefill step.
std::vector<float> alone(const model::Model& m, const std::vector<int32_t>& toks) {
  auto ex = engine::make_cpu_executor(m, {64, 4});
  std::vector<int32_t> table(16);
  std::iota(table.begin(), table.end(), 0);
  std::vector<float> logits;
  engine::SeqChunk c{toks, 0, table, false};
  ex->step({&c, 1}, logits);
  return logits;
}
}  // namespace

class BatchedStep : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchedStep, MixedBatchEqualsSequencesAlone) {
  auto m = load(GetParam());
  const int64_t V = m->spec.vocab_size;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> tok(1, static_cast<int32_t>(V - 1));
  std::vector<std::vector<int32_t>> seqs = {std::vector<int32_t>(13), std::vector<int32_t>(3), std::vector<int32_t>(21)};
  for (auto& s : seqs)
    for (auto& t : s) t = tok(rng);

  // Scattered, interleaved block tables (block size 4) to exercise the paging.
  auto ex = engine::make_cpu_executor(*m, {64, 4});
  std::vector<std::vector<int32_t>> tables = {{5, 9, 1, 30, 2, 40}, {7, 3}, {11, 12, 13, 0, 20, 21, 22, 23}};
  // Step 1: prefill seq 0 fully, seq 2 partially (first 10 tokens).
  std::vector<float> logits;
  std::vector<engine::SeqChunk> step1 = {
      {std::span<const int32_t>(seqs[0].data(), 12), 0, tables[0], false},
      {std::span<const int32_t>(seqs[2].data(), 10), 0, tables[2], false},
  };
  ex->step(step1, logits);
  // Step 2: decode seq 0's last token, start seq 1, finish seq 2's prefill; all in one step.
  std::vector<engine::SeqChunk> step2 = {
      {std::span<const int32_t>(seqs[0].data() + 12, 1), 12, tables[0], false},
      {std::span<const int32_t>(seqs[1].data(), 3), 0, tables[1], false},
      {std::span<const int32_t>(seqs[2].data() + 10, 11), 10, tables[2], false},
  };
  ex->step(step2, logits);
  ASSERT_EQ(logits.size(), static_cast<size_t>(3 * V));
  for (size_t s = 0; s < 3; ++s) {
    auto ref = alone(*m, seqs[s]);
    double max_err = 0;
    for (int64_t v = 0; v < V; ++v) max_err = std::max(max_err, std::fabs(static_cast<double>(ref[v] - logits[s * V + v])));
    EXPECT_LT(max_err, 1e-4) << "sequence " << s;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, BatchedStep,
                         ::testing::Values("llama", "mistral-sliding-window", "qwen3", "qwen3-moe", "gemma3"),
                         [](const auto& i) {
                           std::string n = i.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(CpuExecutor, RejectsBadInput) {
  auto m = load("llama");
  auto ex = engine::make_cpu_executor(*m, {8, 4});
  std::vector<float> logits;
  std::vector<int32_t> table = {0};
  std::vector<int32_t> bad_tok = {1, 100000};
  engine::SeqChunk c{bad_tok, 0, table, false};
  EXPECT_THROW(ex->step({&c, 1}, logits), Error);
  std::vector<int32_t> toks(9, 1);  // 9 tokens, one 4-slot block
  engine::SeqChunk c2{toks, 0, table, false};
  EXPECT_THROW(ex->step({&c2, 1}, logits), Error);
  std::vector<int32_t> bad_table = {99};
  std::vector<int32_t> one = {1};
  engine::SeqChunk c3{one, 0, bad_table, false};
  EXPECT_THROW(ex->step({&c3, 1}, logits), Error);
}

// The fused kernels a recipe can supply (gate+up+SiLU, residual add + RMSNorm, paged attention, greedy LM
// head), compiled from their generators for the fixture's shapes: the executor gives the same logits as
// with its defaults, and step_argmax picks the argmax of those logits.
namespace {

registry::RecipeKernel fused_kernel(const graph::Op& op, const std::string& gen, const hw::CpuProfile& cpu) {
  return synaptix::testing::first_point_kernel(op, {&kernels::cpu_generator(gen)}, cpu);
}

graph::Op shaped(graph::OpKind kind, int64_t n, int64_t k, DType w) {
  graph::Op op;
  op.kind = kind;
  op.m_lo = op.m = 1;
  op.n = n;
  op.k = k;
  op.w_dtype = w;
  return op;
}

registry::Recipe fused_recipe(const model::Model& m, const hw::CpuProfile& cpu) {
  const auto& s = m.spec;
  registry::Recipe r;
  r.target_fingerprint = cpu.fingerprint();
  r.target_hash = cpu.fingerprint_hash();
  const auto& L0 = m.layers[0];
  if (L0.gate) {
    r.kernels.push_back(fused_kernel(shaped(graph::OpKind::GateUpSilu, L0.gate->shape[0], L0.gate->shape[1], L0.gate->dtype),
                                     "gate_up_silu_tiled", cpu));
  }
  for (const auto& L : m.layers)
    if (!L.experts.empty()) {
      const auto* g = L.experts[0].gate;
      r.kernels.push_back(
          fused_kernel(shaped(graph::OpKind::GateUpSilu, g->shape[0], g->shape[1], g->dtype), "gate_up_silu_tiled", cpu));
      break;
    }
  r.kernels.push_back(fused_kernel(shaped(graph::OpKind::AddRmsNorm, s.hidden_size, 0, DType::F32), "add_rmsnorm_vec", cpu));
  graph::Op att = shaped(graph::OpKind::Attention, s.num_heads, s.head_dim, DType::F32);
  att.kv_heads = s.num_kv_heads;
  att.ctx = 64;
  r.kernels.push_back(fused_kernel(att, "attention_paged", cpu));
  const auto* lm = m.lm_head;
  r.kernels.push_back(
      fused_kernel(shaped(graph::OpKind::LmHeadArgmax, lm->shape[0], lm->shape[1], lm->dtype), "lm_head_argmax", cpu));
  return r;
}

}  // namespace

class FusedKernels : public ::testing::TestWithParam<std::string> {};

TEST_P(FusedKernels, SameLogitsAsTheDefaultsAndArgmaxOfThem) {
  auto m = load(GetParam());
  const auto cpu = hw::probe_cpu(false);
  const auto dir = std::filesystem::temp_directory_path() / ("sx_fused_exec_" + std::to_string(::getpid()));
  backend::ModuleBuilder builder(dir.string());
  const auto recipe = fused_recipe(*m, cpu);
  auto ks = registry::make_kernel_set(recipe, builder, ThreadPool::global());
  const auto& L0 = m->layers[0];
  ASSERT_NE(ks->add_rmsnorm(3, m->spec.hidden_size), nullptr);
  ASSERT_NE(ks->attention(3, m->spec.num_heads, m->spec.num_kv_heads, m->spec.head_dim, 30), nullptr);
  if (L0.gate) {
    ASSERT_NE(ks->gate_up_silu(3, L0.gate->shape[0], L0.gate->shape[1], L0.gate->dtype), nullptr);
  }

  const int64_t V = m->spec.vocab_size;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> tok(1, static_cast<int32_t>(V - 1));
  std::vector<int32_t> a(9), b(4);
  for (auto& t : a) t = tok(rng);
  for (auto& t : b) t = tok(rng);
  std::vector<int32_t> ta = {3, 0, 7}, tb = {5, 1};
  // Prefill both (all logits), then one decode token each: every hook at m > 1 and m = 1 paths.
  auto run = [&](const kernels::KernelSet* set, std::vector<float>& l1, std::vector<float>& l2, std::vector<int32_t>& ids) {
    auto ex = engine::make_cpu_executor(*m, {8, 4}, set);
    std::vector<engine::SeqChunk> s1 = {{std::span<const int32_t>(a.data(), 8), 0, ta, true},
                                        {std::span<const int32_t>(b.data(), 3), 0, tb, true}};
    ex->step(s1, l1);
    std::vector<engine::SeqChunk> s2 = {{std::span<const int32_t>(a.data() + 8, 1), 8, ta, false},
                                        {std::span<const int32_t>(b.data() + 3, 1), 3, tb, false}};
    // Greedy step on a twin executor in the same state, so both paths see the same KV.
    auto twin = engine::make_cpu_executor(*m, {8, 4}, set);
    std::vector<float> ignored;
    twin->step(s1, ignored);
    ex->step(s2, l2);
    auto* greedy = dynamic_cast<engine::GreedyStep*>(twin.get());
    ASSERT_NE(greedy, nullptr);
    greedy->step_argmax(s2, ids);
  };
  std::vector<float> d1, d2, f1, f2;
  std::vector<int32_t> dids, fids;
  run(nullptr, d1, d2, dids);
  run(ks.get(), f1, f2, fids);
  ASSERT_EQ(d1.size(), f1.size());
  ASSERT_EQ(d2.size(), f2.size());
  double max_err = 0, max_abs = 0;
  for (size_t i = 0; i < d1.size(); ++i) max_err = std::max(max_err, std::fabs(double(d1[i]) - f1[i])), max_abs = std::max(max_abs, std::fabs(double(d1[i])));
  for (size_t i = 0; i < d2.size(); ++i) max_err = std::max(max_err, std::fabs(double(d2[i]) - f2[i]));
  EXPECT_LT(max_err, 1e-3 * std::max(1.0, max_abs)) << "prefill+decode logits with fused kernels vs defaults";
  ASSERT_EQ(fids.size(), 2u);
  ASSERT_EQ(dids.size(), 2u);
  for (size_t r = 0; r < 2; ++r) {
    const float* row = f2.data() + r * V;
    const int64_t best = std::max_element(row, row + V) - row;
    EXPECT_EQ(dids[r], best) << "default greedy path row " << r;
    // The fused argmax may differ only on a near-tie (within f32 reordering of the logits).
    EXPECT_NEAR(row[fids[r]], row[best], 1e-4 * std::max(1.0f, std::fabs(row[best]))) << "fused greedy row " << r;
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Families, FusedKernels, ::testing::Values("llama", "qwen3", "qwen3-moe", "mistral-sliding-window", "gemma3"),
                         [](const auto& i) {
                           std::string n = i.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });
