// The CUDA recipe end to end on the device, through the CLI a user runs: `tune --target cuda:0` on a fixture
// model writes a recipe for this device; `generate --target cuda:0 --recipe` runs its plan (the precision
// note says where the precision came from) and gives the greedy text of the untuned executor at the same
// precision (a plan changes schedules, not the greedy tokens); a recipe of another device or of the CPU is refused.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cli.h"

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {

const std::string kLlama = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

std::string scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("synaptix_cuda_recipe_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return (d / name).string();
}

// stdout only: the generated text.
std::string text_of(const std::string& args) {
  auto r = run_cli(args, "", /*merge_stderr=*/false);
  EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.output;
  return r.output;
}

TEST(CudaRecipeCli, TuneWritesARecipeThatGenerateRunsAndOtherTargetsRefuse) {
  const std::string recipe = scratch("llama-cuda.json");
  const auto tuned = run_cli("tune --target cuda:0 --model " + kLlama + " --batches 1 --prompt 128 --context 64 "
                             "--decode-steps 8 --precision kv=bf16,products=1 --db " + scratch("tuning.db") +
                             " --out " + recipe);
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  ASSERT_TRUE(fs::exists(recipe)) << tuned.output;
  std::ifstream in(recipe);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << recipe << " is not JSON";
  EXPECT_EQ(j["target"]["kind"], "cuda");
  EXPECT_EQ(j["whole_step"]["format"], "synaptix-whole-step/1");
  EXPECT_TRUE(j["whole_step"]["decode_attention"].contains("1")) << j["whole_step"].dump();
  EXPECT_EQ(j["precision"]["kv_cache"], "bf16");
  EXPECT_GT(j["trace"].size(), 10u);

  const std::string prompt = " --prompt 'The quick brown fox' --max-tokens 8 --ignore-eos";
  const auto with = run_cli("generate --model " + kLlama + prompt + " --target cuda:0 --recipe " + recipe);
  ASSERT_EQ(with.exit_code, 0) << with.output;
  EXPECT_NE(with.output.find("precision kv=bf16, products=1 from recipe"), std::string::npos) << with.output;
  // The reference: the same recipe without its plan (the executor's default schedules, same precision).
  nlohmann::json plain = j;
  plain.erase("whole_step");
  const std::string untuned = scratch("llama-cuda-untuned.json");
  std::ofstream(untuned) << plain.dump(2);
  const std::string tuned_text = text_of("generate --model " + kLlama + prompt + " --target cuda:0 --recipe " + recipe);
  const std::string untuned_text = text_of("generate --model " + kLlama + prompt + " --target cuda:0 --recipe " + untuned);
  EXPECT_FALSE(tuned_text.empty());
  EXPECT_EQ(tuned_text, untuned_text);

  // Another device's recipe, and a CPU recipe, are refused naming both targets.
  j["target"]["fingerprint"] = "cuda:NVIDIA Imaginary 1:sm_99a:1sm:drv1";
  const std::string foreign = scratch("foreign.json");
  std::ofstream(foreign) << j.dump(2);
  const auto refused = run_cli("generate --model " + kLlama + prompt + " --target cuda:0 --recipe " + foreign);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("NVIDIA Imaginary 1"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("this device:"), std::string::npos) << refused.output;
  j["target"]["kind"] = "cpu";
  std::ofstream(foreign) << j.dump(2);
  const auto cpu = run_cli("generate --model " + kLlama + prompt + " --target cuda:0 --recipe " + foreign);
  EXPECT_NE(cpu.exit_code, 0);
  EXPECT_NE(cpu.output.find("recipe target: cpu"), std::string::npos) << cpu.output;
}

}  // namespace
