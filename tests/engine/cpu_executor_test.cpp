// The executor batches several sequences of different lengths in one step (prefill chunks and decode tokens
// mixed, scattered KV blocks); each sequence's logits must equal running it alone.
#include "synaptix/engine/cpu_executor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "synaptix/core/error.h"
#include "synaptix/model/model.h"

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
                         ::testing::Values("llama", "mistral-sliding-window", "qwen3", "qwen3-moe"),
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
