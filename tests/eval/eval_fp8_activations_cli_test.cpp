// The precision activations=fp8 (W8A8, the CUDA executor's) as the quality gate's sides take it: `eval compare`
// reads it from a side (activations=fp8) or from a recipe's "precision" section, refuses it on the CPU target
// by name instead of running another precision, and names a value it does not know with the accepted ones.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/cli.h"

namespace {

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

const std::string kLlama = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
const std::string kText = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/corpus.txt";

std::string compare(const std::string& candidate) {
  return "eval compare --model " + kLlama + " --incumbent target=cpu --candidate " + candidate + " --text " + kText +
         " --ctx 32 --max-windows 1";
}

TEST(EvalFp8Activations, TheCpuTargetRefusesItByName) {
  const auto r = run_cli(compare("target=cpu,activations=fp8"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("activations=fp8 on --target cpu"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("verdict:"), std::string::npos) << r.output;
}

TEST(EvalFp8Activations, UnknownValuesAreNamedWithTheAcceptedOnes) {
  const auto r = run_cli(compare("activations=fp16"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("activations=fp16, expected bf16 or fp8"), std::string::npos) << r.output;
}

TEST(EvalFp8Activations, ARecipesPrecisionSectionCarriesIt) {
  const fs::path dir = fs::temp_directory_path() / ("synaptix-eval-fp8-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  fs::create_directories(dir);
  const std::string good = (dir / "fp8.json").string(), bad = (dir / "bad.json").string();
  std::ofstream(good) << R"({"precision": {"kv_cache": "f32", "activations": "fp8"}})";
  std::ofstream(bad) << R"({"precision": {"activations": "e5m2"}})";
  // The section's choice reaches the executor: the CPU refuses it as it refuses activations=fp8 on a side.
  const auto r = run_cli(compare("target=cpu,recipe=" + good));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("activations=fp8 on --target cpu"), std::string::npos) << r.output;
  const auto b = run_cli(compare("recipe=" + bad));
  EXPECT_NE(b.exit_code, 0);
  EXPECT_NE(b.output.find(bad + ": \"precision\": activations=e5m2, expected bf16 or fp8"), std::string::npos) << b.output;
  fs::remove_all(dir);
}

}  // namespace
