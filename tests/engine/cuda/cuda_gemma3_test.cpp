// Gemma 3 on the CUDA executor. The fixture's Hugging Face reference logits are checked with the other
// families' (cuda_executor_fixtures_test.cpp); here: the real Gemma 3 270M (models/gemma-3-270m-q4_k_m.gguf,
// matrices dequantized to bf16 at load so both executors hold the same weights: 4 heads over 1 KV head of
// head_dim 256, sliding and global layers with their own RoPE bases, query_pre_attn_scalar 256) against the
// CPU executor, prefill on both the tensor-core and the GEMV path and a greedy decode; and the soft-caps the
// GPU does not compute are refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/model/model.h"

namespace {

namespace se = synaptix::engine;
const std::string kModel = std::string(SYNAPTIX_SOURCE_DIR) + "/models/gemma-3-270m-q4_k_m.gguf";

int64_t argmax_row(const std::vector<float>& v, int64_t row, int64_t V) {
  const auto b = v.begin() + static_cast<std::ptrdiff_t>(row * V);
  return std::max_element(b, b + static_cast<std::ptrdiff_t>(V)) - b;
}

// max |a - b| / max |b| and the share of rows whose argmax agrees.
std::pair<double, double> agreement(const std::vector<float>& got, const std::vector<float>& want, int64_t rows, int64_t V) {
  double d = 0, s = 1e-6;
  for (size_t i = 0; i < want.size(); ++i) {
    d = std::max(d, std::isfinite(got[i]) ? std::fabs(static_cast<double>(got[i]) - want[i]) : INFINITY);
    s = std::max(s, std::fabs(static_cast<double>(want[i])));
  }
  int64_t agree = 0;
  for (int64_t r = 0; r < rows; ++r) agree += argmax_row(got, r, V) == argmax_row(want, r, V);
  return {d / s, static_cast<double>(agree) / static_cast<double>(rows)};
}

TEST(CudaGemma3, RealModelMatchesTheCpuExecutor) {
  if (!std::filesystem::exists(kModel))
    GTEST_SKIP() << kModel << " is absent (scripts/install-models.sh installs it)";
  auto m = synaptix::model::load_model(kModel, synaptix::model::GgufWeights::Bf16);
  ASSERT_EQ(m->spec.family, synaptix::model::Family::Gemma3);
  // Ten tokens of the model's vocabulary, past the first sliding window of no layer but through every layer
  // kind; block tables not in order.
  const std::vector<int32_t> ids = {2, 818, 5279, 529, 7001, 563, 496, 4588, 1004, 236761};
  const int64_t T = static_cast<int64_t>(ids.size()), V = m->spec.vocab_size;
  se::KvConfig kv;
  kv.block_size = 4;
  kv.num_blocks = 8;
  const std::vector<int32_t> table = {5, 2, 7, 0};
  se::SeqChunk all{ids, 0, table, true};

  auto cpu = se::make_cpu_executor(*m, kv);
  std::vector<float> want;
  cpu->step({&all, 1}, want);
  ASSERT_EQ(static_cast<int64_t>(want.size()), T * V);

  for (int gemv_max_rows : {8, 1 << 20}) {  // tensor cores, then the GEMV path with the GeGLU epilogue
    se::CudaExecutorOptions opt;
    opt.gemv_max_rows = gemv_max_rows;
    auto gpu = se::make_cuda_executor(*m, kv, 0, opt);
    std::vector<float> got;
    gpu->step({&all, 1}, got);
    ASSERT_EQ(got.size(), want.size());
    const auto [rel, top1] = agreement(got, want, T, V);
    std::printf("gemma-3-270m prefill (%s): max_rel_err %.3g top1 %.3f\n", gemv_max_rows == 8 ? "tensor cores" : "gemv",
                rel, top1);
    EXPECT_LE(rel, 2e-2) << "gemv_max_rows=" << gemv_max_rows;
    EXPECT_GE(top1, 0.9) << "gemv_max_rows=" << gemv_max_rows;
  }

  // Prefill half, then decode the rest one token a step (graph capture and replay after the second step).
  auto gpu = se::make_cuda_executor(*m, kv, 0, {});
  const int64_t half = T / 2;
  std::vector<float> logits, decoded;
  se::SeqChunk head{std::span<const int32_t>(ids.data(), static_cast<size_t>(half)), 0, table, false};
  gpu->step({&head, 1}, logits);
  for (int64_t t = half; t < T; ++t) {
    se::SeqChunk d{std::span<const int32_t>(ids.data() + t, 1), t, table, false};
    gpu->step({&d, 1}, logits);
    ASSERT_EQ(static_cast<int64_t>(logits.size()), V);
    decoded.insert(decoded.end(), logits.begin(), logits.end());
  }
  const std::vector<float> tail(want.begin() + static_cast<std::ptrdiff_t>(half * V), want.end());
  const auto [rel, top1] = agreement(decoded, tail, T - half, V);
  std::printf("gemma-3-270m decode: max_rel_err %.3g top1 %.3f\n", rel, top1);
  EXPECT_LE(rel, 2e-2);
  EXPECT_GE(top1, 0.8);
}

TEST(CudaGemma3, SoftCapsAreRefusedByName) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/gemma3";
  auto m = synaptix::model::load_model(dir);
  se::KvConfig kv;
  kv.num_blocks = 8;
  m->spec.final_logit_softcap = 30.0;
  try {
    se::make_cuda_executor(*m, kv, 0, {});
    ADD_FAILURE() << "a final logit soft-cap was accepted";
  } catch (const synaptix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("final_logit_softcapping"), std::string::npos) << e.what();
  }
  m->spec.final_logit_softcap = 0.0;
  m->spec.attn_logit_softcap = 50.0;
  try {
    se::make_cuda_executor(*m, kv, 0, {});
    ADD_FAILURE() << "an attention soft-cap was accepted";
  } catch (const synaptix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("attn_logit_softcapping"), std::string::npos) << e.what();
  }
}

}  // namespace
