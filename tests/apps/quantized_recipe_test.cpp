// A recipe with a "quant" section runs the quantized model through the CLI: `generate --recipe R` produces the
// tokens of the same model quantized in process (the bytes of model/quantized_model.h, the tensors in the
// recipe's dtypes), a second start reads the on-disk cache, the standalone quantization file of older builds
// is still read, `synaptix quantize --out R` writes such a recipe, `synaptix tune --quant R` tunes kernels for
// the formats and carries them, and bad recipes (a tensor the model
// lacks, a group that does not divide a row, an unknown format)
// are refused with a message naming the recipe and what is wrong. The fixture is the 2-layer llama of
// ../shared/fixtures (hidden 64, intermediate 160).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "support/generate_tokens.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/model/model.h"
#include "synaptix/model/quantized_model.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/registry/recipe.h"

using namespace synaptix;
using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {

const std::string kLlama = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
const std::string kPrompt = "Once upon a time";
constexpr int kTokens = 24;

fs::path scratch() {
  const fs::path d = fs::temp_directory_path() / ("synaptix-quant-recipe-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// Every projection of both layers in some format: per-channel, grouped (both), MX.
quant::QuantRecipe formats() {
  quant::QuantRecipe q;
  const std::pair<const char*, DType> layer[] = {
      {"self_attn.q_proj.weight", DType::W4_G32}, {"self_attn.k_proj.weight", DType::W8_PC},
      {"self_attn.v_proj.weight", DType::FP8_PC}, {"self_attn.o_proj.weight", DType::MXFP4},
      {"mlp.gate_proj.weight", DType::W4A_G64},   {"mlp.up_proj.weight", DType::W4_G64},
      {"mlp.down_proj.weight", DType::W4A_G32}};
  for (int l = 0; l < 2; ++l)
    for (const auto& [n, d] : layer) q.tensors["model.layers." + std::to_string(l) + "." + n] = d;
  q.notes["gate"] = {{"name", "test"}, {"pass", true}};
  return q;
}

// A CPU recipe of this machine with no kernels, carrying `q` (what `synaptix quantize --out` writes).
std::string write_recipe(const fs::path& path, const quant::QuantRecipe& q) {
  registry::Recipe r;
  const hw::CpuProfile cpu = hw::probe_cpu(false);
  r.target_fingerprint = cpu.fingerprint();
  r.target_hash = cpu.fingerprint_hash();
  r.quant = q;
  registry::save_recipe(r, path.string());
  return path.string();
}

// The text `generate` prints for the model as it is now (greedy, EOS ignored), and its tokens.
std::string in_process_text(const model::Model& m, std::vector<int32_t>* tokens) {
  const auto tok = model::Tokenizer::load(kLlama);
  const std::vector<int32_t> ids = tok.encode(kPrompt, true);
  engine::KvConfig kv;
  kv.num_blocks = (static_cast<int64_t>(ids.size()) + kTokens + kv.block_size) / kv.block_size + 1;
  auto ex = engine::make_cpu_executor(m, kv);
  engine::GenerateOptions g;
  g.max_tokens = kTokens;
  *tokens = test::generate_tokens(*ex, ids, g);
  model::DecodeStream s(tok, true);
  std::string text;
  for (int32_t t : *tokens) text += s.push(t);
  return text + s.flush() + "\n";
}

std::string generate_args(const std::string& recipe) {
  return "generate --model " + kLlama + " --prompt '" + kPrompt + "' --max-tokens " + std::to_string(kTokens) +
         " --ignore-eos" + (recipe.empty() ? "" : " --recipe " + recipe);
}

// A fresh quantized cache for the commands this test runs.
struct CacheDir {
  fs::path dir = scratch() / "cache";
  CacheDir() { ::setenv("SYNAPTIX_CACHE_DIR", dir.c_str(), 1); }
  ~CacheDir() {
    ::unsetenv("SYNAPTIX_CACHE_DIR");
    fs::remove_all(dir);
  }
};

}  // namespace

TEST(QuantizedRecipe, GenerateRunsTheRecipesFormats) {
  CacheDir cache;
  const std::string recipe = write_recipe(scratch() / "quant.json", formats());
  // In process: the recipe's formats applied to the loaded model, the tensors in the recipe's dtypes.
  auto m = model::load_model(kLlama);
  std::vector<int32_t> plain_tokens, quant_tokens;
  const std::string plain = in_process_text(*m, &plain_tokens);
  const registry::Recipe loaded = registry::load_recipe(recipe);
  ASSERT_TRUE(loaded.quant);
  EXPECT_EQ(loaded.quant->notes["gate"]["pass"], true);
  model::apply_quant_recipe(*m, *loaded.quant, "");
  for (const auto& [name, slot] : model::quantizable_matrices(*m))
    EXPECT_EQ((*slot)->dtype, formats().tensors.at(name)) << name;
  const std::string want = in_process_text(*m, &quant_tokens);
  ASSERT_NE(plain_tokens, quant_tokens) << "the formats do not change this model's greedy tokens: the test "
                                           "could not tell whether they were applied";

  // Through the CLI: the same text, the formats quantized once and then read from the cache.
  auto first = run_cli(generate_args(recipe), "", /*merge_stderr=*/false);
  ASSERT_EQ(first.exit_code, 0) << run_cli(generate_args(recipe)).output;
  EXPECT_EQ(first.output, want);
  EXPECT_NE(first.output, plain);
  auto second = run_cli(generate_args(recipe));
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("14 tensors in their weight formats"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("read from"), std::string::npos) << second.output;
  EXPECT_EQ(run_cli(generate_args(""), "", false).output, plain);

  // The standalone quantization recipe of older builds runs the same.
  const fs::path old = scratch() / "old.json";
  std::ofstream(old) << quant::recipe_to_json(formats()).dump();
  EXPECT_EQ(run_cli(generate_args(old.string()), "", false).output, want);
}

TEST(QuantizedRecipe, BadRecipesAreRefusedNamingWhatIsWrong) {
  CacheDir cache;
  auto expect_refused = [](const std::string& args, const std::vector<std::string>& words) {
    const auto r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << r.output;
    for (const auto& w : words) EXPECT_NE(r.output.find(w), std::string::npos) << "missing '" << w << "' in " << r.output;
  };
  quant::QuantRecipe lacks;
  lacks.tensors["model.layers.7.mlp.up_proj.weight"] = DType::W8_PC;
  const std::string r1 = write_recipe(scratch() / "lacks.json", lacks);
  expect_refused(generate_args(r1), {r1, "model.layers.7.mlp.up_proj.weight", "not a quantizable matrix"});

  quant::QuantRecipe group;  // down_proj's rows are 160 elements: not whole groups of 64
  group.tensors["model.layers.0.mlp.down_proj.weight"] = DType::W4_G64;
  const std::string r2 = write_recipe(scratch() / "group.json", group);
  expect_refused(generate_args(r2), {r2, "model.layers.0.mlp.down_proj.weight", "160", "multiple of 64"});

  nlohmann::json bad = registry::to_json(registry::load_recipe(r2));
  bad["quant"]["tensors"]["model.layers.0.mlp.down_proj.weight"] = "int3-g32";
  const fs::path r3 = scratch() / "unknown.json";
  std::ofstream(r3) << bad.dump();
  expect_refused(generate_args(r3.string()), {r3.string(), "model.layers.0.mlp.down_proj.weight", "int3-g32",
                                               "not a weight format", "int4-g128-asym"});
}

TEST(QuantizedRecipe, QuantizeWritesARecipeGenerateRuns) {
  CacheDir cache;
  const fs::path out = scratch() / "quantized.json";
  auto q = run_cli("quantize --model " + kLlama + " --formats int8-pc --ctx 16 --calib-windows 1 --eval-windows 1 " +
                   "--out " + out.string());
  ASSERT_EQ(q.exit_code, 0) << q.output;
  const registry::Recipe r = registry::load_recipe(out.string());
  ASSERT_TRUE(r.quant);
  EXPECT_EQ(r.quant->tensors.size(), 14u);
  for (const auto& [name, d] : r.quant->tensors) EXPECT_EQ(d, DType::W8_PC) << name;
  EXPECT_EQ(r.quant->notes["gate"]["pass"], true);
  EXPECT_TRUE(r.kernels.empty());
  auto g = run_cli(generate_args(out.string()));
  EXPECT_EQ(g.exit_code, 0) << g.output;
  EXPECT_NE(g.output.find("14 tensors in their weight formats (rtn"), std::string::npos) << g.output;
  EXPECT_NE(g.output.find("read from"), std::string::npos) << g.output;  // quantize left its bytes in the cache
}

TEST(QuantizedRecipe, TuneSearchesTheFormatsAndCarriesThem) {
  CacheDir cache;
  quant::QuantRecipe q;
  for (int l = 0; l < 2; ++l) {
    q.tensors["model.layers." + std::to_string(l) + ".self_attn.q_proj.weight"] = DType::W4_G32;
    q.tensors["model.layers." + std::to_string(l) + ".mlp.up_proj.weight"] = DType::W8_PC;
  }
  const std::string formats_recipe = write_recipe(scratch() / "tune-formats.json", q);
  const fs::path out = scratch() / "tuned.json";
  auto t = run_cli("tune --model " + kLlama + " --quant " + formats_recipe + " --budget 8 --buckets 1 " +
                   "--sample-seconds 0.01 --db " + (scratch() / "t.db").string() + " --out " + out.string());
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const registry::Recipe r = registry::load_recipe(out.string());
  ASSERT_TRUE(r.quant);
  EXPECT_EQ(r.quant->tensors, q.tensors);
  // The formats' ops were tuned (promoted or left to the default), never dropped.
  EXPECT_NE(t.output.find("w=int4-g32"), std::string::npos) << t.output;
  EXPECT_NE(t.output.find("w=int8-pc"), std::string::npos) << t.output;
  for (const auto& k : r.kernels)
    if (k.w_dtype == DType::W4_G32 || k.w_dtype == DType::W8_PC) {
      EXPECT_EQ(k.generator, "linear_format_q8") << k.signature;
      EXPECT_EQ(k.params.value("act", ""), "f32") << k.signature << ": no gate text, so exact activations only";
    }
  auto g = run_cli(generate_args(out.string()));
  EXPECT_EQ(g.exit_code, 0) << g.output;
  EXPECT_NE(g.output.find("4 tensors in their weight formats"), std::string::npos) << g.output;
}
