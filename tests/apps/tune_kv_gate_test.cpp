// tune --kv-formats: the KV cache format is a precision choice under the quality gate. Without a gate text it
// is refused; with one, the candidates run the whole model against an f32 cache on the text, narrowest first:
// under a gate every format passes, the recipe's precision section takes the narrowest (int8 and fp8-e4m3
// are one byte each: the first of them as given); under a gate none can pass, the recipe keeps no precision
// (an f32 cache) and says why. Fixture: llama (random weights), the first 8 KB of wikitext-2.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cli.h"

using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {
const std::string kModel = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}
}  // namespace

TEST(TuneKvGate, TheNarrowestPassingFormatGoesIntoTheRecipe) {
  const fs::path dir = fs::temp_directory_path() / ("sx_kvgate_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / "r.json").string();
  auto refused = run_cli("tune --model " + kModel + " --kv-formats int8 --budget 1 --out " + out);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("--gate-text"), std::string::npos) << refused.output;
  auto bad = run_cli("tune --model " + kModel + " --kv-formats int4 --budget 1 --out " + out);
  EXPECT_NE(bad.output.find("KV cache format \"int4\" (expected one of f32, bf16, int8, fp8-e4m3)"), std::string::npos)
      << bad.output;

  const std::string text = (dir / "text.txt").string();
  {
    std::ifstream in(std::string(SYNAPTIX_SHARED_DIR) + "/data/wiki.test.raw");
    std::string s(8192, '\0');
    in.read(s.data(), static_cast<std::streamsize>(s.size()));
    s.resize(static_cast<size_t>(in.gcount()));
    std::ofstream(text) << s;
  }
  const std::string lenient = (dir / "lenient.json").string(), impossible = (dir / "impossible.json").string();
  std::ofstream(lenient) << R"({"name": "lenient", "max_mean_kl": 10})";
  std::ofstream(impossible) << R"({"name": "impossible", "max_perplexity_ratio": 0.5})";
  const std::string base = "tune --model " + kModel + " --budget 1 --in-context-seconds 0 --gate-windows 1 --gate-text " +
                           text + " --kv-formats bf16,fp8-e4m3,int8 --out " + out + " --gate ";

  auto pass = run_cli(base + lenient);
  ASSERT_EQ(pass.exit_code, 0) << pass.output;
  nlohmann::json r = read_json(out);
  ASSERT_TRUE(r.contains("precision")) << r.dump();
  EXPECT_EQ(r["precision"]["kv_cache"], "fp8-e4m3") << r["tuning"]["kv_gate"].dump();
  EXPECT_EQ(r["tuning"]["kv_gate"]["chosen"], "fp8-e4m3");
  EXPECT_EQ(r["tuning"]["kv_gate"]["candidates"].size(), 1u);  // the first passed: no other was tried
  EXPECT_GT(r["tuning"]["kv_gate"]["candidates"][0]["figures"]["mean_kl"].get<double>(), 0.0);  // the cache changed
  EXPECT_NE(pass.output.find("KV cache gate"), std::string::npos) << pass.output;

  auto fail = run_cli(base + impossible);
  ASSERT_EQ(fail.exit_code, 0) << fail.output;
  r = read_json(out);
  EXPECT_FALSE(r.contains("precision")) << r.dump();
  EXPECT_EQ(r["tuning"]["kv_gate"]["chosen"], "f32");
  ASSERT_EQ(r["tuning"]["kv_gate"]["candidates"].size(), 3u) << r["tuning"]["kv_gate"].dump();
  EXPECT_EQ(r["tuning"]["kv_gate"]["candidates"][0]["kv_cache"], "fp8-e4m3");  // one byte, given before int8
  EXPECT_EQ(r["tuning"]["kv_gate"]["candidates"][1]["kv_cache"], "int8");
  EXPECT_EQ(r["tuning"]["kv_gate"]["candidates"][2]["kv_cache"], "bf16");
  fs::remove_all(dir);
}
