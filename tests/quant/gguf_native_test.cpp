// A GGUF model loaded natively (model::GgufWeights::Native, the default): the real SmolLM2-135M-Instruct Q4_1
// file keeps its Q4_1 matrices and its Q8_0 embedding (also the tied LM head) as the file's mapped bytes, and
// its logits and greedy continuation agree with the same file dequantized to bf16 at load. The two differ
// only by bf16's rounding of the dequantized weights (the native kernels keep f32 activations), so the greedy
// tokens must be the same and the per-position KL tiny. Skipped when the model is not installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <vector>

#include "support/generate_tokens.h"
#include "support/prompt_logits.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/model/gguf_model.h"
#include "synaptix/model/model.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize_simd.h"

using namespace synaptix;
namespace fs = std::filesystem;

namespace {

const std::string kSmol = (fs::path(SYNAPTIX_SOURCE_DIR) / "models/SmolLM2-135M-Instruct.Q4_1.gguf").string();
const std::string kGemma = (fs::path(SYNAPTIX_SOURCE_DIR) / "models/gemma-3-270m-q4_k_m.gguf").string();

#define SKIP_IF_ABSENT(path) \
  if (!fs::exists(path)) GTEST_SKIP() << path << " is not installed (scripts/install-models.sh)"

// llama-tokenize's ids for the start of shared/data/wiki.test.raw (as tests/model/gguf_real_test.cpp has them).
const std::vector<int32_t> kPrompt = {446, 6356, 389, 9226, 352, 446, 216, 2738, 6356, 389, 9226, 352, 314, 354, 2321, 4771};

// KL(p || q) of the softmaxes of two logit rows.
double kl(const float* p_logits, const float* q_logits, int64_t v) {
  const float pm = *std::max_element(p_logits, p_logits + v), qm = *std::max_element(q_logits, q_logits + v);
  double ps = 0, qs = 0;
  for (int64_t i = 0; i < v; ++i) ps += std::exp(double(p_logits[i] - pm)), qs += std::exp(double(q_logits[i] - qm));
  double d = 0;
  for (int64_t i = 0; i < v; ++i) {
    const double lp = double(p_logits[i] - pm) - std::log(ps), lq = double(q_logits[i] - qm) - std::log(qs);
    d += std::exp(lp) * (lp - lq);
  }
  return d;
}

}  // namespace

TEST(GgufNative, SmolLM2KeepsItsBlocksMapped) {
  SKIP_IF_ABSENT(kSmol);
  auto native = model::load_model(kSmol);
  EXPECT_EQ(native->embed->dtype, DType::Q8_0);
  EXPECT_EQ(native->lm_head, native->embed);
  const auto& L = native->layers.front();
  for (const model::TensorRef* t : {L.q, L.k, L.v, L.o, L.gate, L.up, L.down})
    EXPECT_EQ(t->dtype, DType::Q4_1) << t->name;
  EXPECT_EQ(L.attn_norm->dtype, DType::F32);
  EXPECT_EQ(L.down->nbytes, static_cast<size_t>(576 * quant::row_bytes(DType::Q4_1, 1536)));
  EXPECT_TRUE(native->mapped);
  // Only the Q and K projections (rows put back in Hugging Face order) and the norms are copies.
  size_t copied = 0;
  for (const auto& o : native->owned) copied += o->bytes.size();
  EXPECT_LT(copied, static_cast<size_t>(native->weight_bytes() / 4));
  auto bf16 = model::load_model(kSmol, model::GgufWeights::Bf16);
  EXPECT_EQ(bf16->embed->dtype, DType::BF16);
  EXPECT_EQ(bf16->layers.front().q->dtype, DType::BF16);
  // 5 bits a weight (8.5 for the embedding, a third of the bytes) instead of 16.
  EXPECT_LT(native->weight_bytes() * 5, bf16->weight_bytes() * 2);
}

TEST(GgufNative, SmolLM2MatchesTheBf16ExpansionOfTheSameFile) {
  SKIP_IF_ABSENT(kSmol);
  auto native = model::load_model(kSmol);
  auto bf16 = model::load_model(kSmol, model::GgufWeights::Bf16);
  const int64_t V = native->spec.vocab_size, T = static_cast<int64_t>(kPrompt.size());
  const auto a = test::prompt_logits(*native, kPrompt), b = test::prompt_logits(*bf16, kPrompt);
  ASSERT_EQ(a.size(), static_cast<size_t>(T * V));
  double worst = 0;
  int same_top1 = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float *pa = a.data() + t * V, *pb = b.data() + t * V;
    worst = std::max(worst, kl(pb, pa, V));
    same_top1 += std::max_element(pa, pa + V) - pa == std::max_element(pb, pb + V) - pb;
  }
  std::printf("native Q4_1 vs bf16 expansion: worst per-position KL %.2e, same top-1 %d/%lld\n", worst, same_top1,
              static_cast<long long>(T));
  // bf16 keeps 8 significant bits of each dequantized weight: a relative error up to 2^-9 per weight.
  EXPECT_LT(worst, 2e-3);
  EXPECT_GE(same_top1, T - 1);

  engine::GenerateOptions o;
  o.max_tokens = 10;
  auto ea = engine::make_cpu_executor(*native, {8, 16}), eb = engine::make_cpu_executor(*bf16, {8, 16});
  const auto ga = test::generate_tokens(*ea, kPrompt, o), gb = test::generate_tokens(*eb, kPrompt, o);
  EXPECT_EQ(ga, gb) << "greedy continuations of the native and the bf16-expanded load differ";
  EXPECT_EQ(ga.size(), 10u);
}

TEST(GgufNative, TheOpGraphOfAGgufFileCarriesItsBlockTypes) {
  SKIP_IF_ABSENT(kSmol);
  const model::Spec s = model::gguf_spec(model::GgufFile(kSmol));
  const auto g = graph::decode_graph(s, graph::decode_buckets().front(), 128);
  std::map<std::string, DType> w;
  for (const auto& op : g.ops) w[op.name] = op.w_dtype;
  EXPECT_EQ(w.at("layers.*.self_attn.q_proj"), DType::Q4_1);
  EXPECT_EQ(w.at("layers.*.mlp.down_proj"), DType::Q4_1);
  EXPECT_EQ(w.at("lm_head"), DType::Q8_0);  // the tied Q8_0 embedding
  // No fused kernel takes blocks: the fused ops are not in the step.
  EXPECT_EQ(w.count("layers.*.mlp.gate_up_silu"), 0u);
  EXPECT_EQ(w.count("lm_head_argmax"), 0u);
  for (const auto& op : g.ops) {
    if (op.name == "layers.*.mlp.down_proj") {  // 1536 x 576 Q4_1 weights at 20 bytes per 32
      EXPECT_NEAR(op.min_bytes(), 576.0 * 1536 * 20 / 32 + (1536 + 576) * 4, 1.0);
    }
  }
}

TEST(GgufNative, Gemma3KeepsTheBlockTypesThisBuildRunsAtSpeed) {
  SKIP_IF_ABSENT(kGemma);
  // Q4_K_M mixes Q4_K, Q5_0, Q6_K and Q8_0. Q8_0 always runs as blocks; the others where this build has
  // vectorised row dequantizers (AVX-512), else they are the bf16 fallback.
  const bool fast = quant::has_fast_dequantize(DType::Q4_K) && quant::has_fast_dequantize(DType::Q6_K) &&
                    quant::has_fast_dequantize(DType::Q5_0);
  auto m = model::load_model(kGemma);
  EXPECT_EQ(m->embed->dtype, DType::Q8_0);
  std::map<DType, int> n;
  for (const auto& L : m->layers)
    for (const model::TensorRef* t : {L.q, L.k, L.v, L.o, L.gate, L.up, L.down}) ++n[t->dtype];
  for (const auto& [d, count] : n) {
    if (fast) EXPECT_TRUE(d == DType::Q8_0 || d == DType::Q4_K || d == DType::Q5_0 || d == DType::Q6_K)
        << dtype_name(d) << " x" << count;
    else EXPECT_TRUE(d == DType::Q8_0 || d == DType::BF16) << dtype_name(d) << " x" << count;
  }
  // The tuner sees what the load holds: a Q8_0 LM head.
  const model::Spec s = model::gguf_spec(model::GgufFile(kGemma));
  EXPECT_EQ(s.weight_dtypes.at("lm_head"), DType::Q8_0);
}
