// Every fixture model passes `synaptix verify` against the Hugging Face reference logits and greedy tokens.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/cli.h"

namespace fs = std::filesystem;

using synaptix::testing::run_cli;

class VerifyFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(VerifyFixture, MatchesReference) {
  const fs::path dir = fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models" / GetParam();
  auto r = run_cli("verify --model " + dir.string() + " --reference " +
              (dir / "reference.safetensors").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_LE(j["max_rel_err"].get<double>(), 1e-3);
  EXPECT_EQ(j["top1_agreement"].get<double>(), 1.0);
  const std::string g = j["greedy_match"];
  EXPECT_EQ(g.substr(0, g.find('/')), g.substr(g.find('/') + 1)) << g;
}

INSTANTIATE_TEST_SUITE_P(All, VerifyFixture,
                         ::testing::Values("llama", "llama2-sentencepiece", "llama3-rope-scaling",
                                           "llama3-legacy-config", "mistral-sliding-window", "qwen2", "qwen3",
                                           "mixtral-moe", "qwen3-moe", "gemma3"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(Verify, WrongReferenceFails) {
  const fs::path root = fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models";
  // The llama reference against the qwen2 weights: same vocab, different model: must fail, exit non-zero.
  auto r = run_cli("verify --model " + (root / "qwen2").string() + " --reference " +
              (root / "llama/reference.safetensors").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"pass\":false"), std::string::npos) << r.output;
}
