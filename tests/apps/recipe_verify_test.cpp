// A recipe tuned from config.json alone drives generate/verify: the fixture still matches the reference with
// the tuned kernels, and a recipe for another target is refused with a clear message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli.h"

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

TEST(RecipeVerify, TunedRecipePassesVerifyAndForeignRecipeIsRefused) {
  const std::string model = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/qwen2";
  const fs::path dir = fs::temp_directory_path() / ("sx_recipe_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string recipe = (dir / "recipe.json").string();
  auto t = run_cli("tune --model " + model + " --budget 24 --buckets 1,prefill --sample-seconds 0.02 --db " +
                   (dir / "db.sqlite").string() + " --cache-dir " + (dir / "cache").string() + " --out " + recipe);
  ASSERT_EQ(t.exit_code, 0) << t.output;
  auto v = run_cli("verify --model " + model + " --reference " + model + "/reference.safetensors --recipe " + recipe);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  auto g = run_cli("generate --model " + model + " --prompt 'hi' --max-tokens 4 --recipe " + recipe);
  EXPECT_EQ(g.exit_code, 0) << g.output;

  auto j = nlohmann::json::parse(std::ifstream(recipe));
  j["target"]["fingerprint"] = "cpu|x86_64|Some Other CPU|avx2|64c";
  j["target"]["hash"] = "0123456789abcdef";
  std::ofstream(dir / "foreign.json") << j.dump();
  auto f = run_cli("verify --model " + model + " --reference " + model + "/reference.safetensors --recipe " +
                   (dir / "foreign.json").string());
  EXPECT_NE(f.exit_code, 0);
  EXPECT_NE(f.output.find("error: "), std::string::npos) << f.output;
  EXPECT_NE(f.output.find("Some Other CPU"), std::string::npos) << f.output;
  fs::remove_all(dir);
}
