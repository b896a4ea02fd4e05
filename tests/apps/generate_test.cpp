// generate and synth end to end through the CLI: reproducible sampling, stop strings, limits, presets.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/cli.h"

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {
const std::string kLlama = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

// stdout only (stderr carries the timing line).
std::string text_of(const std::string& args) {
  auto r = run_cli(args, "", /*merge_stderr=*/false);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}
}  // namespace

TEST(Generate, SeededSamplingIsReproducible) {
  const std::string base = "generate --model " + kLlama + " --prompt 'Tuning is' --max-tokens 24 --ignore-eos --temperature 1.0 ";
  const std::string a = text_of(base + "--seed 11");
  EXPECT_EQ(a, text_of(base + "--seed 11"));
  EXPECT_NE(a, text_of(base + "--seed 12"));
}

TEST(Generate, StopStringCutsTheOutput) {
  const std::string base = "generate --model " + kLlama + " --prompt 'The quick brown fox' --max-tokens 24 --ignore-eos ";
  const std::string full = text_of(base);
  ASSERT_GT(full.size(), 12u);
  const std::string stop = full.substr(6, 3);
  const std::string cut = text_of(base + "--stop '" + stop + "'");
  EXPECT_EQ(cut, full.substr(0, full.find(stop)) + "\n");
}

TEST(Generate, ChatTemplateAndTimings) {
  auto r = run_cli("generate --model " + kLlama + " --prompt 'Hi' --chat --max-tokens 4 --ignore-eos");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("decode: 4 tokens"), std::string::npos) << r.output;
}

// --recipe none means the defaults on every target (on a GPU it also declines the checked-in recipe).
TEST(Generate, RecipeNoneRunsTheDefaultsOnTheCpu) {
  const std::string base = "generate --model " + kLlama + " --prompt 'Tuning is' --max-tokens 12 --ignore-eos ";
  EXPECT_EQ(text_of(base + "--recipe none"), text_of(base));
}

TEST(Generate, OverLongRequestIsAClearError) {
  auto r = run_cli("generate --model " + kLlama + " --prompt 'Hi' --max-tokens 100000");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("exceeds the model's context of 256 tokens"), std::string::npos) << r.output;
}

TEST(Synth, LikeAFixtureThenRun) {
  const fs::path out = fs::temp_directory_path() / ("sx_synth_" + std::to_string(::getpid()));
  auto r = run_cli("synth --like " + std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/qwen3-moe --out " +
                   out.string() + " --seed 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto i = run_cli("inspect --model " + out.string());
  EXPECT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("family         qwen3_moe"), std::string::npos) << i.output;
  auto g = run_cli("generate --model " + out.string() + " --prompt 'hello' --max-tokens 3 --ignore-eos");
  EXPECT_EQ(g.exit_code, 0) << g.output;
  fs::remove_all(out);
}

TEST(Synth, PresetShapesAndUnknownPreset) {
  const fs::path out = fs::temp_directory_path() / ("sx_preset_" + std::to_string(::getpid()));
  fs::create_directories(out);
  // Presets are checked from their config alone (inspect reads config.json when there are no weights).
  auto bad = run_cli("synth --like llama-9000 --out " + out.string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("unknown preset \"llama-9000\""), std::string::npos) << bad.output;
  fs::remove_all(out);
}
