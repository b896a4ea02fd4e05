// generate() with temperature / top-k on the CUDA executor draws on the device (no logits reach the host),
// is reproducible for a fixed seed, and every token it draws is in the top-k of that step's logits; with
// penalties it falls back to the host Sampler.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/engine/generator.h"
#include "synaptix/model/model.h"
#include "support/generate_tokens.h"

namespace {

namespace se = synaptix::engine;

// Forwards to the CUDA executor and counts which path generate() took.
class CountingExecutor final : public se::Executor, public se::SampleStep {
 public:
  explicit CountingExecutor(se::CudaExecutor& ex) : ex_(ex) {}
  const synaptix::model::Spec& spec() const override { return ex_.spec(); }
  int64_t num_blocks() const override { return ex_.num_blocks(); }
  int64_t block_size() const override { return ex_.block_size(); }
  void step(std::span<const se::SeqChunk> chunks, std::vector<float>& logits) override {
    ++logits_steps;
    ex_.step(chunks, logits);
  }
  bool can_sample() const override { return ex_.can_sample(); }
  void step_sample(std::span<const se::SeqChunk> chunks, const se::SamplingParams& p, uint64_t step_index,
                   std::vector<int32_t>& ids) override {
    ++sample_steps;
    ex_.step_sample(chunks, p, step_index, ids);
  }
  int logits_steps = 0, sample_steps = 0;

 private:
  se::CudaExecutor& ex_;
};

using synaptix::test::generate_tokens;

TEST(CudaSampling, GenerateDrawsOnTheDeviceReproduciblyFromTheTopK) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
  auto m = synaptix::model::load_model(dir);
  se::KvConfig kv;
  kv.num_blocks = 16;
  auto ex = se::make_cuda_executor(*m, kv, 0, {});
  if (!ex->can_sample()) GTEST_SKIP() << "device sampling needs compute capability 9.0";
  CountingExecutor spy(*ex);
  const std::vector<int32_t> prompt = {1, 15, 27, 300, 42, 7, 99, 5};
  se::GenerateOptions o;
  o.max_tokens = 32;
  o.prefill_chunk = 3;  // several prefill steps before the first draw
  o.sampling.temperature = 0.8f;
  o.sampling.top_k = 20;
  o.sampling.seed = 1234;
  const auto a = generate_tokens(spy, prompt, o);
  ASSERT_EQ(a.size(), 32u);
  EXPECT_EQ(spy.logits_steps, 0) << "logits were copied to the host";
  EXPECT_EQ(spy.sample_steps, 3 + 31);
  EXPECT_EQ(generate_tokens(spy, prompt, o), a) << "same seed, different tokens";
  o.sampling.seed = 99;
  EXPECT_NE(generate_tokens(spy, prompt, o), a) << "another seed drew the same 32 tokens";

  // Each drawn token is within the top-k of its step's logits (one prefill of prompt + tokens, every row;
  // the prefill path's logits may differ from decode's by up to verify's bar, 2e-2 of the largest logit).
  std::vector<int32_t> seq = prompt;
  seq.insert(seq.end(), a.begin(), a.end() - 1);
  std::vector<int32_t> table(static_cast<size_t>(kv.num_blocks));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  se::SeqChunk c{seq, 0, table, true};
  std::vector<float> logits;
  ex->step({&c, 1}, logits);
  const int64_t V = m->spec.vocab_size;
  ASSERT_EQ(static_cast<int64_t>(logits.size()), static_cast<int64_t>(seq.size()) * V);
  for (size_t j = 0; j < a.size(); ++j) {
    const float* row = logits.data() + (prompt.size() - 1 + j) * static_cast<size_t>(V);
    float scale = 0;
    for (int64_t v = 0; v < V; ++v) scale = std::max(scale, std::fabs(row[v]));
    const float tol = 2e-2f * scale, mine = row[a[j]];
    const auto above = std::count_if(row, row + V, [&](float x) { return x > mine + tol; });
    EXPECT_LT(above, o.sampling.top_k) << "token " << j << " (" << a[j] << ") is outside the top-" << o.sampling.top_k;
  }
}

TEST(CudaSampling, PenaltiesStayOnTheHostPath) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
  auto m = synaptix::model::load_model(dir);
  se::KvConfig kv;
  kv.num_blocks = 16;
  auto ex = se::make_cuda_executor(*m, kv, 0, {});
  CountingExecutor spy(*ex);
  se::GenerateOptions o;
  o.max_tokens = 8;
  o.sampling.temperature = 0.8f;
  o.sampling.repetition_penalty = 1.2f;
  o.sampling.seed = 5;
  EXPECT_EQ(generate_tokens(spy, {1, 2, 3}, o).size(), 8u);
  EXPECT_EQ(spy.sample_steps, 0);
  EXPECT_EQ(spy.logits_steps, 1 + 7);
  // Asked directly, the device path refuses penalties instead of ignoring them.
  std::vector<int32_t> ids, toks = {1}, table = {0};
  se::SeqChunk c{toks, 0, table, false};
  EXPECT_THROW(ex->step_sample({&c, 1}, o.sampling, 0, ids), synaptix::Error);
}

}  // namespace
