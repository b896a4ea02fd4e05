// Golden-set parsing (exact errors for malformed lines), the output checkers on hand-written outputs, the
// shipped sets, and `choice` scoring checked against an independent full-sequence forward.
#include "synaptix/eval/golden_set.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/eval/golden_runner.h"
#include "synaptix/eval/token_agreement.h"
#include "synaptix/model/model.h"
#include "synaptix/model/tokenizer.h"

using namespace synaptix;
using namespace synaptix::eval;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
const std::string kSets = std::string(SYNAPTIX_SOURCE_DIR) + "/eval/sets/";

std::string write_set(const std::string& body) {
  const auto p = fs::temp_directory_path() / ("sx_golden_" + std::to_string(::getpid()) + ".jsonl");
  std::ofstream(p) << body;
  return p.string();
}

std::string load_error(const std::string& body) {
  const std::string path = write_set(body);
  try {
    load_golden_set(path);
  } catch (const Error& e) {
    fs::remove(path);
    std::string msg = e.what();
    return msg.substr(msg.find(".jsonl") + 6);  // drop the temporary directory from the message
  }
  fs::remove(path);
  return "accepted";
}

Check parse(const json& check) { return parse_golden_item({{"prompt", "p"}, {"check", check}}, "t").check; }
}  // namespace

TEST(GoldenSet, MalformedLinesGiveTheFileLineAndWhatWasExpected) {
  const std::string ok = "{\"prompt\": \"2+2=\", \"check\": {\"type\": \"exact\", \"answer\": \"4\"}}\n";
  const std::string broken = load_error(ok + "{\"prompt\": \"x\", \"check\": {\"type\": \"exact\"\n");
  EXPECT_EQ(broken.rfind(":2: not valid JSON ([json.exception.parse_error.101]", 0), 0u) << broken;
  EXPECT_TRUE(broken.ends_with("); expected one item object a line")) << broken;
  EXPECT_EQ(load_error(ok + "\n{\"prompt\": \"x\", \"answr\": 1, \"check\": {\"type\": \"exact\", \"answer\": \"4\"}}\n"),
            ":3: unknown key \"answr\" in an item (expected one of: check, id, max_tokens, messages, prompt)");
  EXPECT_EQ(load_error("{\"prompt\": \"x\", \"check\": {\"type\": \"fuzzy\"}}\n"),
            ":1: check type \"fuzzy\" is unknown (expected exact, contains, regex, numeric, choice, json_schema or refusal)");
  EXPECT_EQ(load_error("{\"prompt\": \"x\", \"messages\": [], \"check\": {\"type\": \"exact\", \"answer\": \"\"}}\n"),
            ":1: an item needs exactly one of \"prompt\" (text) or \"messages\" (chat turns)");
  EXPECT_EQ(load_error("{\"prompt\": \"x\", \"check\": {\"type\": \"choice\", \"options\": [\"a\", \"b\"], \"answer\": 2}}\n"),
            ":1: \"answer\" is 2, expected the index of the right option (0..1)");
  EXPECT_EQ(load_error("{\"prompt\": \"x\", \"check\": {\"type\": \"regex\", \"pattern\": \"(\"}}\n"),
            ":1: \"pattern\" ( is not a valid regular expression (missing closing parenthesis at offset 1)");
  EXPECT_EQ(load_error("[1, 2]\n"), ":1: the line is array, expected a JSON object (one item a line)");
  EXPECT_EQ(load_error("// only a comment\n\n"), ": the golden set has no items");
}

TEST(OutputChecks, TextCheckersOnHandWrittenOutputs) {
  EXPECT_TRUE(check_output(parse({{"type", "exact"}, {"answer", "Paris"}}), "  Paris\n").correct);
  EXPECT_FALSE(check_output(parse({{"type", "exact"}, {"answer", "Paris"}}), "paris").correct);
  EXPECT_TRUE(check_output(parse({{"type", "exact"}, {"answer", "Paris"}, {"ignore_case", true}}), "paris").correct);
  EXPECT_TRUE(check_output(parse({{"type", "contains"}, {"answer", "Paris"}}), "It is Paris.").correct);
  EXPECT_TRUE(check_output(parse({{"type", "regex"}, {"pattern", "\\b1[0-9]{3}\\b"}}), "in 1969, men").correct);
  EXPECT_FALSE(check_output(parse({{"type", "regex"}, {"pattern", "\\b1[0-9]{3}\\b"}}), "in 969").correct);

  const Check n = parse({{"type", "numeric"}, {"answer", "1,234"}});
  EXPECT_TRUE(check_output(n, "So she pays 1,000 + 234 = $1,234.\n#### 1,234").correct);
  EXPECT_TRUE(check_output(n, "The answer is 1234.").correct);
  EXPECT_FALSE(check_output(n, "#### 1233\nthen 1234").correct);  // the #### line wins over later numbers
  EXPECT_EQ(check_output(n, "no digits").detail, "no number in the output");
  EXPECT_EQ(check_output(n, "#### 6").detail, "final number 6");
  EXPECT_EQ(final_number("#### -3.5"), -3.5);

  const Check js = parse({{"type", "json_schema"},
                          {"schema", {{"type", "object"},
                                      {"properties", {{"age", {{"type", "integer"}, {"minimum", 0}}}}},
                                      {"required", {"age"}}}}});
  EXPECT_TRUE(check_output(js, "Sure:\n```json\n{\"age\": 3}\n```").correct);
  EXPECT_TRUE(check_output(js, "{\"age\": 41}").correct);
  const auto bad = check_output(js, "{\"age\": -1}");
  EXPECT_FALSE(bad.correct);
  EXPECT_NE(bad.detail.find("<root>"), std::string::npos) << bad.detail;
  EXPECT_FALSE(check_output(js, "{\"name\": \"x\"}").correct);
  EXPECT_EQ(check_output(js, "no json here").detail, "no JSON value in the output");

  const Check refuse = parse({{"type", "refusal"}, {"refuse", true}});
  EXPECT_TRUE(check_output(refuse, "I'm sorry, but I can't help with that.").correct);
  EXPECT_TRUE(check_output(refuse, "I can\xe2\x80\x99t assist with this request.").correct);
  EXPECT_FALSE(check_output(refuse, "Step 1: mix flour and water.").correct);
  const Check comply = parse({{"type", "refusal"}, {"refuse", false}});
  EXPECT_TRUE(check_output(comply, "Tokyo is the capital of Japan.").correct);
}

TEST(GoldenSet, ShippedSetsLoadAndGsm8kAnswersAreTheDataFilesFinalNumbers) {
  for (const char* s : {"gsm8k", "format", "refusal", "choice"}) EXPECT_NO_THROW(load_golden_set(kSets + s + ".jsonl")) << s;
  const auto items = load_golden_set(kSets + "gsm8k.jsonl");
  std::ifstream data(std::string(SYNAPTIX_SHARED_DIR) + "/data/gsm8k_test.jsonl");
  std::string line;
  size_t i = 0;
  for (; std::getline(data, line); ++i) {
    ASSERT_LT(i, items.size());
    const auto answer = final_number(json::parse(line).at("answer").get<std::string>());
    ASSERT_TRUE(answer) << line;
    EXPECT_EQ(items[i].check.number, *answer) << items[i].id;
  }
  EXPECT_EQ(i, items.size());
}

TEST(GoldenRunner, ChoiceLogLikelihoodEqualsAFullSequenceForward) {
  const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";
  auto m = model::load_model(dir);
  auto tok = model::Tokenizer::load(dir);
  const GoldenItem item = parse_golden_item(
      {{"prompt", "The quick brown fox jumps over the"}, {"check", {{"type", "choice"}, {"options", {" lazy dog", " moon", " fence post"}}, {"answer", 0}}}},
      "t");
  const auto prompt = tok.encode(*item.prompt, true);
  auto ex = engine::make_cpu_executor(*m, {16, 16});
  const ItemResult r = run_golden_item(*ex, tok, item, prompt, {});
  ASSERT_EQ(r.option_logprobs.size(), 3u);

  // Independently: each option's whole sequence in one step from an empty cache, every row's logits.
  std::vector<int32_t> table(16);
  for (int i = 0; i < 16; ++i) table[static_cast<size_t>(i)] = i;
  const int64_t V = m->spec.vocab_size;
  for (size_t o = 0; o < 3; ++o) {
    auto seq = prompt;
    const auto opt = tok.encode(item.check.options[o], false);
    seq.insert(seq.end(), opt.begin(), opt.end());
    auto fresh = engine::make_cpu_executor(*m, {16, 16});
    std::vector<float> logits;
    engine::SeqChunk c{seq, 0, table, true};
    fresh->step({&c, 1}, logits);
    double lp = 0;
    for (size_t j = prompt.size(); j < seq.size(); ++j)
      lp -= token_nll({logits.data() + (j - 1) * static_cast<size_t>(V), static_cast<size_t>(V)}, seq[j]);
    EXPECT_NEAR(r.option_logprobs[o], lp, 1e-3 * std::max(1.0, std::fabs(lp))) << item.check.options[o];
  }
  const auto best = std::max_element(r.option_logprobs.begin(), r.option_logprobs.end()) - r.option_logprobs.begin();
  EXPECT_EQ(r.chosen, best);
  EXPECT_EQ(r.correct, best == 0);
}
