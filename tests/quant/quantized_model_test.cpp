// A quantization recipe applied to the real SmolLM2-135M-Instruct (its Q4_1 GGUF expanded to bf16 at load):
// the named matrices become the recipe's weight formats with the values round-to-nearest gives, the model
// still predicts like itself, the quantized bytes are cached and a second start reads them, a damaged cache
// is quantized again, and recipes naming a tensor the model lacks or a group that does not divide a row are
// refused naming the tensor. Skipped when the model is not installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "support/prompt_logits.h"
#include "synaptix/core/error.h"
#include "synaptix/model/model.h"
#include "synaptix/model/quantized_model.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/quant_recipe.h"
#include "synaptix/quant/weight_quantize.h"

using namespace synaptix;
namespace fs = std::filesystem;

namespace {

const std::string kSmol = (fs::path(SYNAPTIX_SOURCE_DIR) / "models/SmolLM2-135M-Instruct.Q4_1.gguf").string();
const std::vector<int32_t> kPrompt = {446, 6356, 389, 9226, 352, 446, 216, 2738, 6356, 389, 9226, 352, 314, 354, 2321, 4771};

#define SKIP_IF_ABSENT(path) \
  if (!fs::exists(path)) GTEST_SKIP() << path << " is not installed (scripts/install-models.sh)"

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("synaptix-quant-test-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

// Layers 0 and 1: every projection, one format each, covering per-channel, grouped and MX formats.
quant::QuantRecipe two_layer_recipe() {
  quant::QuantRecipe r;
  const std::pair<const char*, DType> layer[] = {
      {"self_attn.q_proj.weight", DType::W4_G64},   {"self_attn.k_proj.weight", DType::W4A_G32},
      {"self_attn.v_proj.weight", DType::W8_PC},    {"self_attn.o_proj.weight", DType::FP8_PC},
      {"mlp.gate_proj.weight", DType::MXFP4},       {"mlp.up_proj.weight", DType::W4A_G64},
      {"mlp.down_proj.weight", DType::W4_G128}};
  for (int l = 0; l < 2; ++l)
    for (const auto& [n, d] : layer) r.tensors["model.layers." + std::to_string(l) + "." + n] = d;
  return r;
}

}  // namespace

TEST(QuantizedModel, RecipeFormatsAreAppliedCachedAndReadBack) {
  SKIP_IF_ABSENT(kSmol);
  const fs::path cache = fresh_dir("cache");
  const quant::QuantRecipe r = two_layer_recipe();
  auto m = model::load_model(kSmol, model::GgufWeights::Bf16);
  const auto before = test::prompt_logits(*m, kPrompt);
  const std::vector<float> q0 = model::matrix_f32(*m->layers[0].q);
  const model::QuantApplied a = model::apply_quant_recipe(*m, r, cache.string());
  EXPECT_EQ(a.tensors, 14);
  EXPECT_FALSE(a.from_cache);
  EXPECT_TRUE(fs::exists(a.cache_file)) << a.cache_file;
  EXPECT_LT(a.bytes_after * 2, a.bytes_before);  // 4-8.25 bits a weight instead of bf16's 16
  EXPECT_EQ(m->layers[0].q->dtype, DType::W4_G64);
  EXPECT_EQ(m->layers[1].gate->dtype, DType::MXFP4);
  EXPECT_EQ(m->layers[2].q->dtype, DType::BF16);  // not in the recipe
  // The values are round-to-nearest of the loaded ones.
  std::vector<uint8_t> want(m->layers[0].q->nbytes);
  quant::quantize_rows(*quant::weight_format(DType::W4_G64), q0.data(), 576, 576, want.data());
  EXPECT_EQ(0, std::memcmp(want.data(), m->layers[0].q->data, want.size()));
  // Quantizing two layers barely moves the predictions.
  const auto after = test::prompt_logits(*m, kPrompt);
  const int64_t V = m->spec.vocab_size, T = static_cast<int64_t>(kPrompt.size());
  int same = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float *pa = before.data() + t * V, *pb = after.data() + t * V;
    same += std::max_element(pa, pa + V) - pa == std::max_element(pb, pb + V) - pb;
  }
  EXPECT_GE(same, T - 2);

  // A second start reads the cache: the same bytes, no quantization.
  auto m2 = model::load_model(kSmol, model::GgufWeights::Bf16);
  const model::QuantApplied b = model::apply_quant_recipe(*m2, r, cache.string());
  EXPECT_TRUE(b.from_cache) << b.note;
  EXPECT_EQ(b.cache_file, a.cache_file);
  ASSERT_EQ(m2->layers[1].down->nbytes, m->layers[1].down->nbytes);
  EXPECT_EQ(0, std::memcmp(m2->layers[1].down->data, m->layers[1].down->data, m->layers[1].down->nbytes));
  EXPECT_EQ(m2->layers[1].down->dtype, DType::W4_G128);

  // Another recipe is another cache file; a damaged file is quantized again.
  quant::QuantRecipe other = r;
  other.tensors.begin()->second = DType::W8_PC;
  EXPECT_NE(model::quant_cache_file(*m2, other, cache.string()), a.cache_file);
  fs::resize_file(a.cache_file, fs::file_size(a.cache_file) / 2);
  auto m3 = model::load_model(kSmol, model::GgufWeights::Bf16);
  const model::QuantApplied c = model::apply_quant_recipe(*m3, r, cache.string());
  EXPECT_FALSE(c.from_cache);
  EXPECT_NE(c.note.find("damaged"), std::string::npos) << c.note;
  EXPECT_EQ(0, std::memcmp(m3->layers[1].down->data, m->layers[1].down->data, m->layers[1].down->nbytes));
  fs::remove_all(cache);
}

TEST(QuantizedModel, BadRecipesAreRefusedNamingTheTensor) {
  SKIP_IF_ABSENT(kSmol);
  auto m = model::load_model(kSmol);  // native Q4_1: quantizable from its blocks too
  auto expect_error = [&](const quant::QuantRecipe& r, const std::vector<std::string>& words) {
    try {
      model::apply_quant_recipe(*m, r, "");
      FAIL() << "accepted";
    } catch (const Error& e) {
      for (const auto& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
    }
  };
  quant::QuantRecipe r;
  r.tensors["model.embed_tokens.weight"] = DType::W8_PC;
  expect_error(r, {"model.embed_tokens.weight", "not a quantizable matrix"});
  r.tensors.clear();
  r.tensors["model.layers.3.self_attn.q_proj.weight"] = DType::W4_G128;  // k = 576 = 4.5 groups of 128
  expect_error(r, {"model.layers.3.self_attn.q_proj.weight", "576", "multiple of 128"});
  r.tensors.clear();
  r.method = "gptq";
  r.tensors["model.layers.3.self_attn.q_proj.weight"] = DType::W4_G64;
  expect_error(r, {"synaptix quantize"});
  // Recipe files: an unknown format is named with the accepted ones.
  const nlohmann::json bad = {{"synaptix_quant_recipe", 1}, {"tensors", {{"model.layers.0.mlp.up_proj.weight", "int3"}}}};
  try {
    quant::recipe_from_json(bad, "r.json");
    FAIL() << "int3 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("int4-g128"), std::string::npos) << e.what();
  }
  const quant::QuantRecipe rt = quant::recipe_from_json(quant::recipe_to_json(two_layer_recipe()), "rt");
  EXPECT_EQ(rt.tensors, two_layer_recipe().tensors);
}
