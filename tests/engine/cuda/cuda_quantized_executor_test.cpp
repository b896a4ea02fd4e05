// The CUDA executor on a quantized model (a quantization recipe applied at load, model/quantized_model.h)
// against the CPU executor on the same quantized model: the llama fixture with every projection in one weight
// format, for each format whose groups divide the fixture's rows. The whole prompt as one step with every
// logits row, on the GEMV path (the format's GEMV, weights dequantized in registers: tight) and on the
// tensor-core path (weights expanded to bf16 for cuBLASLt: bf16's rounding), then decode one token at a time
// (graphs). Also: formats the executor cannot fuse are refused by name. Needs a GPU (bench/gpu/run.sh);
// skipped without one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "synaptix/core/error.h"
#include "support/logits_agreement.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/model/model.h"
#include "synaptix/model/quantized_model.h"
#include "synaptix/quant/weight_format.h"

namespace {

using synaptix::DType;
namespace engine = synaptix::engine;
namespace model = synaptix::model;
namespace quant = synaptix::quant;

bool have_device() {
  try {
    return synaptix::hw::cuda::device_count() > 0;
  } catch (const synaptix::Error&) {
    return false;
  }
}

const std::string kDir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

// Every quantizable matrix of m in format f.
quant::QuantRecipe recipe_all(model::Model& m, DType f) {
  quant::QuantRecipe r;
  for (const auto& [name, slot] : model::quantizable_matrices(m)) r.tensors[name] = f;
  return r;
}

using Agreement = synaptix::testing::LogitsAgreement;

const std::vector<int32_t> kPrompt = {1, 17, 250, 3, 99, 411, 7, 64, 300, 12, 5, 480, 33, 2, 128, 77, 9, 260, 41, 500};

// Every logits row of the prompt in one step.
std::vector<float> prefill(engine::Executor& ex, const std::vector<int32_t>& table) {
  std::vector<float> logits;
  engine::SeqChunk c{kPrompt, 0, table, true};
  ex.step({&c, 1}, logits);
  return logits;
}

// The prompt's first half in one step, then one token a step: the logits of each decoded token.
std::vector<float> decode(engine::Executor& ex, const std::vector<int32_t>& table) {
  const int64_t T = static_cast<int64_t>(kPrompt.size()), half = T / 2;
  std::vector<float> logits, all;
  engine::SeqChunk c{std::span<const int32_t>(kPrompt.data(), static_cast<size_t>(half)), 0, table, false};
  ex.step({&c, 1}, logits);
  for (int64_t t = half; t < T; ++t) {
    engine::SeqChunk d{std::span<const int32_t>(kPrompt.data() + t, 1), t, table, false};
    ex.step({&d, 1}, logits);
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

class CudaQuantized : public ::testing::TestWithParam<DType> {};

TEST_P(CudaQuantized, MatchesTheCpuExecutorOnTheSameQuantizedModel) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device (run by bench/gpu/run.sh)";
  const quant::WeightFormat& f = *quant::weight_format(GetParam());
  auto m = model::load_model(kDir);
  const model::QuantApplied applied = model::apply_quant_recipe(*m, recipe_all(*m, f.dtype), "");
  ASSERT_EQ(applied.tensors, 7 * m->spec.num_layers);
  ASSERT_EQ(m->layers[0].q->dtype, f.dtype);
  const int64_t T = static_cast<int64_t>(kPrompt.size()), V = m->spec.vocab_size;
  engine::KvConfig kv;
  kv.num_blocks = T / kv.block_size + 4;
  std::vector<int32_t> table(static_cast<size_t>(kv.num_blocks));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(table.size() - 1 - i);  // not identity

  auto cpu = engine::make_cpu_executor(*m, kv);
  const std::vector<float> want = prefill(*cpu, table);
  ASSERT_EQ(static_cast<int64_t>(want.size()), T * V);
  auto cpu2 = engine::make_cpu_executor(*m, kv);
  const std::vector<float> want_decode = decode(*cpu2, table);

  // GEMV-side path for every row count with the tensor-core product "off": the executor holds only the
  // tensor-core layout (no packed rows for the format's GEMV), so the product still runs, in calls of 64 rows,
  // with f32 activations.
  {
    engine::CudaExecutorOptions opt;
    opt.gemv_max_rows = 1 << 20;
    opt.quant_gemv_max_rows = 1 << 20;
    opt.quant_mma_max_rows = 0;
    auto ex = engine::make_cuda_executor(*m, kv, 0, opt);
    const Agreement a = synaptix::testing::compare_logits(prefill(*ex, table), want, T, V);
    EXPECT_LE(a.rel, 2e-3) << f.name << " GEMV path";
    EXPECT_GE(a.top1, 0.99) << f.name << " GEMV path";
    std::printf("%s prefill (GEMV-side path): max_rel_err %.3g top1 %.3f\n", std::string(f.name).c_str(), a.rel, a.top1);
  }
  // Tensor-core path (weights expanded to bf16, activations split into a bf16 pair): bf16's rounding of the
  // weights moves near-tied logits of this random model.
  {
    engine::CudaExecutorOptions opt;
    opt.quant_mma_max_rows = 0;
    auto ex = engine::make_cuda_executor(*m, kv, 0, opt);
    const Agreement a = synaptix::testing::compare_logits(prefill(*ex, table), want, T, V);
    EXPECT_LE(a.rel, 2e-2) << f.name << " tensor-core path";
    EXPECT_GE(a.top1, 0.9) << f.name << " tensor-core path";
    std::printf("%s prefill (bf16 expansion + cuBLASLt): max_rel_err %.3g top1 %.3f\n", std::string(f.name).c_str(), a.rel,
                a.top1);
  }
  // The tensor-core quantized product (the default for up to 64 rows: the weights as stored, x rounded to f16
  // under a per-token scale), f32 activations (every row count on the GEMV-side path) and the default options
  // (bf16 product inputs for the 20-row prefill): f16's rounding of x, 2^-11 relative, through every layer.
  for (const bool defaults : {false, true}) {
    engine::CudaExecutorOptions opt;
    if (!defaults) opt.gemv_max_rows = 1 << 20;
    auto ex = engine::make_cuda_executor(*m, kv, 0, opt);
    const Agreement a = synaptix::testing::compare_logits(prefill(*ex, table), want, T, V);
    EXPECT_LE(a.rel, 1e-2) << f.name << " tensor-core quantized product" << (defaults ? ", default options" : "");
    EXPECT_GE(a.top1, 0.95) << f.name << " tensor-core quantized product" << (defaults ? ", default options" : "");
    std::printf("%s prefill (quant mma%s): max_rel_err %.3g top1 %.3f\n", std::string(f.name).c_str(),
                defaults ? ", default options" : "", a.rel, a.top1);
  }
  {
    auto ex = engine::make_cuda_executor(*m, kv, 0, {});
    const std::vector<float> got = decode(*ex, table);
    ASSERT_EQ(got.size(), want_decode.size());
    const Agreement a = synaptix::testing::compare_logits(got, want_decode, static_cast<int64_t>(got.size()) / V, V);
    EXPECT_LE(a.rel, 1e-2) << f.name << " decode (quant mma)";
    EXPECT_GE(a.top1, 0.95) << f.name << " decode (quant mma)";
    std::printf("%s decode (quant mma): max_rel_err %.3g top1 %.3f\n", std::string(f.name).c_str(), a.rel, a.top1);
  }
  // Decode, one token a step (captured graphs after the second step), the first half's prefill on the
  // GEMV-side path too (f32 activations; the tensor-core product, see above).
  {
    engine::CudaExecutorOptions opt;
    opt.gemv_max_rows = 1 << 20;
    opt.quant_gemv_max_rows = 1 << 20;
    opt.quant_mma_max_rows = 0;
    auto ex = engine::make_cuda_executor(*m, kv, 0, opt);
    const std::vector<float> got = decode(*ex, table);
    ASSERT_EQ(got.size(), want_decode.size());
    const Agreement a = synaptix::testing::compare_logits(got, want_decode, static_cast<int64_t>(got.size()) / V, V);
    EXPECT_LE(a.rel, 5e-3) << f.name << " decode";
    EXPECT_GE(a.top1, 0.99) << f.name << " decode";
    std::printf("%s decode: max_rel_err %.3g top1 %.3f\n", std::string(f.name).c_str(), a.rel, a.top1);
  }
}

// The fixture's rows are 64 and 160 elements: the formats whose groups divide both.
INSTANTIATE_TEST_SUITE_P(Formats, CudaQuantized,
                         ::testing::Values(DType::W8_PC, DType::FP8_PC, DType::W4_G32, DType::W4A_G32, DType::MXFP4),
                         [](const auto& info) {
                           std::string n(synaptix::dtype_name(info.param));
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// q, k and v run as one product (as do gate and up), so they must share a format: a recipe that mixes them
// is refused, naming the tensors and their formats.
TEST(CudaQuantized, RefusesProjectionsFusedAcrossFormats) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device (run by bench/gpu/run.sh)";
  auto m = model::load_model(kDir);
  quant::QuantRecipe r;
  r.tensors["model.layers.0.self_attn.q_proj.weight"] = DType::W8_PC;
  r.tensors["model.layers.0.self_attn.k_proj.weight"] = DType::FP8_PC;
  model::apply_quant_recipe(*m, r, "");
  engine::KvConfig kv;
  kv.num_blocks = 8;
  try {
    engine::make_cuda_executor(*m, kv, 0, {});
    ADD_FAILURE() << "mixed q/k formats were accepted";
  } catch (const synaptix::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("q_proj"), std::string::npos) << what;
    EXPECT_NE(what.find("fp8-e4m3-pc"), std::string::npos) << what;
  }
}

}  // namespace
