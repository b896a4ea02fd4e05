// Quality gates: the shipped files parse, an unknown key is an exact error naming the file, and the verdict
// follows the bars; then `eval golden` and `eval compare` end to end on the llama fixture.
#include "synaptix/eval/quality_gate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "synaptix/core/error.h"

using namespace synaptix;
using namespace synaptix::eval;
using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {
const std::string kLlama = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
const std::string kSource = SYNAPTIX_SOURCE_DIR;

std::string temp_file(const std::string& name, const std::string& body) {
  const auto p = fs::temp_directory_path() / ("sx_gate_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << body;
  return p.string();
}
}  // namespace

TEST(QualityGate, ShippedGatesHoldTheIssuesBars) {
  const auto g8 = load_gate(kSource + "/eval/gates/8bit.json");
  EXPECT_EQ(*g8.max_mean_kl, 0.002);
  EXPECT_EQ(*g8.min_same_top1, 0.975);
  EXPECT_EQ(*g8.max_perplexity_ratio, 1.002);
  const auto g4 = load_gate(kSource + "/eval/gates/4bit.json");
  EXPECT_EQ(*g4.max_mean_kl, 0.03);
  EXPECT_EQ(*g4.min_same_top1, 0.92);
  EXPECT_EQ(*g4.max_perplexity_ratio, 1.03);
  EXPECT_EQ(*g4.task_alpha, 0.05);
}

TEST(QualityGate, UnknownKeyNamesTheFileTheKeyAndTheKnownOnes) {
  const std::string path = temp_file("bad.json", "{\"max_mean_kl\": 0.01, \"max_kl_mean\": 0.01}");
  try {
    load_gate(path);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ": unknown key \"max_kl_mean\" (expected one of: name, description, max_mean_kl, max_p99_kl, "
                     "min_same_top1, max_perplexity_ratio, task_alpha)");
  }
  const std::string range = temp_file("range.json", "{\"min_same_top1\": 97.5}");
  try {
    load_gate(range);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), range + ": \"min_same_top1\" is 97.5, expected a number in [0, 1]");
  }
  fs::remove(path);
  fs::remove(range);
}

TEST(QualityGate, VerdictFollowsTheBars) {
  QualityGate g;
  g.max_mean_kl = 0.002;
  g.min_same_top1 = 0.975;
  g.task_alpha = 0.05;
  ComparisonFigures f;
  f.mean_kl = 0.001;
  f.same_top1 = 0.98;
  // 12 items: incumbent right on 10 the candidate misses, candidate right on 2 the incumbent misses
  // (McNemar p = 0.0386 < 0.05): a significant drop.
  TaskComparison t{"set", std::vector<uint8_t>(12, 0), std::vector<uint8_t>(12, 0)};
  for (int i = 0; i < 10; ++i) t.incumbent_correct[static_cast<size_t>(i)] = 1;
  t.candidate_correct[10] = t.candidate_correct[11] = 1;
  f.tasks.push_back(t);
  auto v = apply_gate(g, f);
  ASSERT_EQ(v.criteria.size(), 3u);
  EXPECT_TRUE(v.criteria[0].pass);
  EXPECT_TRUE(v.criteria[1].pass);
  EXPECT_FALSE(v.criteria[2].pass) << v.criteria[2].line;
  EXPECT_FALSE(v.pass);
  f.tasks[0].candidate_correct[0] = 1;  // 9 vs 2: p = 0.065, no longer significant
  EXPECT_TRUE(apply_gate(g, f).pass);
  f.mean_kl = 0.0021;
  EXPECT_FALSE(apply_gate(g, f).pass);
  EXPECT_FALSE(apply_gate(QualityGate{}, f).pass);  // a gate that checks nothing passes nothing
}

TEST(EvalCli, GoldenWritesPerItemResultsAndAScoreWithItsInterval) {
  const std::string set = temp_file("set.jsonl",
      "{\"id\": \"a\", \"prompt\": \"The quick brown\", \"max_tokens\": 4, \"check\": {\"type\": \"regex\", \"pattern\": \".\"}}\n"
      "{\"id\": \"b\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 3, \"check\": {\"type\": \"exact\", \"answer\": \"no such output\"}}\n"
      "{\"id\": \"c\", \"prompt\": \"Pick\", \"check\": {\"type\": \"choice\", \"options\": [\" one\", \" two\"], \"answer\": 1}}\n");
  auto r = run_cli("eval golden --model " + kLlama + " --set " + set, "", /*merge_stderr=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> lines;
  std::istringstream in(r.output);
  for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].at("id"), "a");
  EXPECT_EQ(lines[1].at("correct"), false);
  EXPECT_EQ(lines[2].at("option_logprobs").size(), 2u);
  const auto& score = lines[3];
  int64_t correct = 0;
  for (int i = 0; i < 3; ++i) correct += lines[static_cast<size_t>(i)].at("correct").get<bool>();
  EXPECT_EQ(score.at("correct").get<int64_t>(), correct);
  EXPECT_EQ(score.at("items").get<int64_t>(), 3);
  EXPECT_LE(score.at("ci95")[0].get<double>(), score.at("score").get<double>());
  EXPECT_GE(score.at("ci95")[1].get<double>(), score.at("score").get<double>());

  // --out takes the per-item lines; stdout keeps the score.
  const std::string out = temp_file("items.jsonl", "");
  auto to_file = run_cli("eval golden --model " + kLlama + " --set " + set + " --out " + out, "", false);
  ASSERT_EQ(to_file.exit_code, 0) << to_file.output;
  EXPECT_EQ(nlohmann::json::parse(to_file.output), score);
  std::ifstream items(out);
  int64_t n = 0;
  for (std::string l; std::getline(items, l); ++n) EXPECT_EQ(nlohmann::json::parse(l), lines[static_cast<size_t>(n)]);
  EXPECT_EQ(n, 3);
  fs::remove(out);

  auto bad = run_cli("eval golden --model " + kLlama + " --set " + temp_file("bad.jsonl", "{\"prompt\": 3, \"check\": {}}\n"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("bad.jsonl:1: \"prompt\" is number, expected a string"), std::string::npos) << bad.output;
  fs::remove(set);
}

TEST(EvalCli, CompareARunWithItselfPassesAndAnImpossibleGateFails) {
  const std::string text = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/corpus.txt";
  const std::string set = temp_file("cmp.jsonl",
      "{\"prompt\": \"Pick\", \"check\": {\"type\": \"choice\", \"options\": [\" one\", \" two\"], \"answer\": 1}}\n");
  const std::string base = "eval compare --model " + kLlama + " --incumbent model=" + kLlama + " --candidate target=cpu --text " +
                           text + " --ctx 32 --max-windows 2 --set " + set;
  auto same = run_cli(base, "", false);
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_NE(same.output.find("mean KL (nats) 0 <= 0.002: pass"), std::string::npos) << same.output;
  EXPECT_NE(same.output.find("same top-1 100.0000% >= 97.5%: pass"), std::string::npos) << same.output;
  EXPECT_NE(same.output.find("verdict: PASS"), std::string::npos) << same.output;

  const std::string gate = temp_file("strict.json", "{\"name\": \"strict\", \"max_perplexity_ratio\": 0.5}");
  auto strict = run_cli(base + " --gate " + gate, "", false);
  EXPECT_EQ(strict.exit_code, 2) << strict.output;
  EXPECT_NE(strict.output.find("perplexity ratio 1 <= 0.5: FAIL"), std::string::npos) << strict.output;
  EXPECT_NE(strict.output.find("verdict: FAIL"), std::string::npos) << strict.output;

  // The CPU executor stores its KV cache in any format (kv=); one bf16 product is refused, not ignored, and
  // an unknown format is named with the accepted ones.
  auto bf16 = run_cli("eval compare --model " + kLlama + " --incumbent target=cpu --candidate kv=int8 --text " + text +
                      " --ctx 32 --max-windows 1");
  EXPECT_NE(bf16.output.find("kv=int8"), std::string::npos) << bf16.output;
  EXPECT_NE(bf16.output.find("verdict: "), std::string::npos) << bf16.output;
  auto one = run_cli("eval compare --model " + kLlama + " --incumbent target=cpu --candidate products=1 --text " + text +
                     " --ctx 32");
  EXPECT_NE(one.exit_code, 0);
  EXPECT_NE(one.output.find("products=1 on --target cpu"), std::string::npos) << one.output;
  auto fp16 = run_cli("eval compare --model " + kLlama + " --incumbent target=cpu --candidate kv=fp16 --text " + text);
  EXPECT_NE(fp16.output.find("KV cache format \"fp16\" (expected one of f32, bf16, int8, fp8-e4m3)"), std::string::npos)
      << fp16.output;
  auto typo = run_cli("eval compare --model " + kLlama + " --incumbent target=cpu --candidate kvv=bf16 --text " + text);
  EXPECT_NE(typo.output.find("--candidate \"kvv=bf16\": unknown key \"kvv\" (expected model, recipe, quant, target, kv, products or activations)"),
            std::string::npos) << typo.output;
  // A precision-only recipe records the choice, which the CPU runs; a bad entry names the file.
  const std::string f32 = temp_file("f32.json", "{\"precision\": {\"kv_cache\": \"f32\", \"bf16_products\": 2}}");
  const std::string bf16r = temp_file("bf16.json", "{\"precision\": {\"kv_cache\": \"bf16\"}}");
  const std::string odd = temp_file("odd.json", "{\"precision\": {\"kv\": \"bf16\"}}");
  auto rf = run_cli("eval compare --model " + kLlama + " --incumbent target=cpu --candidate recipe=" + f32 + " --text " + text +
                    " --ctx 32 --max-windows 1", "", false);
  EXPECT_EQ(rf.exit_code, 0) << rf.output;
  auto rb = run_cli("eval compare --model " + kLlama + " --incumbent target=cpu --candidate recipe=" + bf16r + " --text " + text +
                    " --ctx 32 --max-windows 1");
  EXPECT_NE(rb.output.find("kv=bf16"), std::string::npos) << rb.output;
  EXPECT_NE(rb.output.find("verdict: "), std::string::npos) << rb.output;
  auto ro = run_cli("eval compare --model " + kLlama + " --incumbent target=cpu --candidate recipe=" + odd + " --text " + text);
  EXPECT_NE(ro.output.find(odd + ": \"precision\": key \"kv\" = \"bf16\" (expected \"kv_cache\": one of f32, bf16, int8, "
                           "fp8-e4m3, \"bf16_products\": 1|2, or \"activations\": \"bf16\"|\"fp8\")"), std::string::npos) << ro.output;
  for (const auto& p : {set, gate, f32, bf16r, odd}) fs::remove(p);
}
