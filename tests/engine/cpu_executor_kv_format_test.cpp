// The CPU executor with its KV cache in each format (bf16, int8, fp8-e4m3) against the same executor with an
// f32 cache, on the fixtures (llama: GQA; qwen3: per-head q/k norms): a 24-token prefill with every token's
// logits (the tiled prefill attention), then 8 decode steps, scattered blocks. The logits stay within the
// format's bound of the f32 cache's (a fraction of the logits' largest magnitude: bf16 2%, int8 3%, fp8 10%)
// and differ from them at all (the format is really what is stored).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "synaptix/engine/cpu_executor.h"
#include "synaptix/model/model.h"

using namespace synaptix;
using kernels::KvFormat;

namespace {

std::vector<float> run(const model::Model& m, KvFormat f, const std::vector<int32_t>& toks) {
  engine::KvConfig kv{16, 4, f};
  auto ex = engine::make_cpu_executor(m, kv);
  const std::vector<int32_t> table = {9, 2, 14, 0, 5, 11, 7, 3};
  std::vector<float> all, logits;
  const size_t prefill = 24;
  engine::SeqChunk c{std::span<const int32_t>(toks.data(), prefill), 0, table, true};
  ex->step({&c, 1}, all);
  for (size_t t = prefill; t < toks.size(); ++t) {
    engine::SeqChunk d{std::span<const int32_t>(toks.data() + t, 1), static_cast<int64_t>(t), table, false};
    ex->step({&d, 1}, logits);
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

}  // namespace

class KvFormatExecutor : public ::testing::TestWithParam<std::string> {};

TEST_P(KvFormatExecutor, LogitsStayNearTheF32Cache) {
  auto m = model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + GetParam());
  std::mt19937 rng(21);
  std::uniform_int_distribution<int32_t> tok(1, static_cast<int32_t>(m->spec.vocab_size - 1));
  std::vector<int32_t> toks(32);
  for (auto& t : toks) t = tok(rng);
  const std::vector<float> exact = run(*m, KvFormat::F32, toks);
  ASSERT_EQ(exact.size(), static_cast<size_t>((24 + 8) * m->spec.vocab_size));
  float peak = 0;
  for (float x : exact) peak = std::max(peak, std::fabs(x));
  for (KvFormat f : {KvFormat::Bf16, KvFormat::Int8, KvFormat::Fp8E4M3}) {
    const std::vector<float> got = run(*m, f, toks);
    ASSERT_EQ(got.size(), exact.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(std::isfinite(got[i])) << kernels::kv_format_name(f) << " logit " << i;
      worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - exact[i]));
    }
    const double bound = f == KvFormat::Bf16 ? 0.02 : f == KvFormat::Int8 ? 0.03 : 0.10;
    std::printf("%s %s KV: max |logit - f32 cache's| %.3g = %.3g of the largest logit\n", GetParam().c_str(),
                kernels::kv_format_name(f), worst, worst / peak);
    EXPECT_LT(worst, bound * peak) << kernels::kv_format_name(f) << " (largest logit " << peak << ")";
    EXPECT_GT(worst, 0.0) << kernels::kv_format_name(f) << " gave the f32 cache's logits exactly";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KvFormatExecutor, ::testing::Values("llama", "qwen3"));
