// Perplexity and KL mechanics on the llama fixture (random weights): the engine's perplexity must equal
// exp(mean NLL) computed from the reference implementation's logits (reference.safetensors) on the same
// ids and positions, a run compared with itself must give KL 0 and 100% same top-1, and KL must match a
// value worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/eval/logits_file.h"
#include "synaptix/eval/perplexity.h"
#include "synaptix/eval/token_agreement.h"
#include "synaptix/model/model.h"
#include "synaptix/model/safetensors.h"

using namespace synaptix;
using synaptix::testing::run_cli;
namespace fs = std::filesystem;

namespace {
const std::string kLlama = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama";

struct Reference {
  std::vector<int32_t> ids;
  const float* logits = nullptr;
  int64_t vocab = 0;
};

Reference load_reference(const model::SafetensorsFile& f) {
  Reference r;
  const auto* ids = f.find("input_ids");
  const auto* logits = f.find("logits");
  EXPECT_TRUE(ids && logits);
  const auto* p = static_cast<const int32_t*>(ids->data);
  r.ids.assign(p, p + ids->shape[0]);
  r.logits = static_cast<const float*>(logits->data);
  r.vocab = logits->shape[1];
  return r;
}

// exp(mean NLL) over llama-perplexity's scored half of one window of ctx tokens, from reference logits.
double reference_perplexity(const Reference& r, int64_t ctx) {
  double nll = 0;
  int64_t n = 0;
  for (int64_t pos = ctx / 2; pos < ctx - 1; ++pos, ++n)
    nll += eval::token_nll({r.logits + pos * r.vocab, static_cast<size_t>(r.vocab)}, r.ids[static_cast<size_t>(pos + 1)]);
  return std::exp(nll / static_cast<double>(n));
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("sx_eval_" + std::to_string(::getpid()) + "_" + name)).string();
}
}  // namespace

TEST(TokenAgreement, KlMatchesAHandComputedValue) {
  // p = (1/2, 1/2), q = softmax(0, ln 3) = (1/4, 3/4): KL(p || q) = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3).
  const std::vector<float> p = {0.0f, 0.0f}, q = {0.0f, static_cast<float>(std::log(3.0))};
  EXPECT_NEAR(eval::kl_divergence(p, q), 0.5 * std::log(4.0 / 3.0), 1e-7);
  EXPECT_NEAR(eval::token_nll(q, 1), -std::log(0.75), 1e-7);
  eval::TokenAgreement a;
  a.add(p, p);
  a.add(q, q);
  EXPECT_EQ(a.mean_kl(), 0.0);
  EXPECT_EQ(a.same_top1_rate(), 1.0);
}

TEST(Perplexity, EqualsExpMeanNllOfTheReferenceLogits) {
  model::SafetensorsFile f(kLlama + "/reference.safetensors");
  const Reference ref = load_reference(f);
  auto m = model::load_model(kLlama);
  eval::PerplexityOptions o;
  o.ctx = static_cast<int64_t>(ref.ids.size());
  o.rows_per_step = 7;  // several scored steps, to cover the chunked path
  auto ex = engine::make_cpu_executor(*m, eval::window_kv(o));
  eval::ScoredWindow w;
  eval::score_window(*ex, ref.ids, 0, o, w);
  ASSERT_EQ(static_cast<int64_t>(w.targets.size()), eval::scored_per_window(o));
  eval::PerplexityResult r;
  eval::accumulate(r, w, ref.vocab, nullptr);
  const double want = reference_perplexity(ref, o.ctx);
  EXPECT_NEAR(r.perplexity(), want, 1e-4 * want);

  // The same rows against the reference's: tiny KL, the same top-1 almost everywhere.
  eval::TokenAgreement a;
  for (int64_t i = 0; i < static_cast<int64_t>(w.targets.size()); ++i)
    a.add({ref.logits + (o.ctx / 2 + i) * ref.vocab, static_cast<size_t>(ref.vocab)},
          {w.logits.data() + i * ref.vocab, static_cast<size_t>(ref.vocab)});
  EXPECT_LT(a.mean_kl(), 1e-5);
  EXPECT_GE(a.same_top1_rate(), 0.95);
}

TEST(Perplexity, TooShortTextIsAClearError) {
  eval::PerplexityOptions o;
  o.ctx = 512;
  try {
    eval::window_count(100, o);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the text has 100 tokens, fewer than one window of --ctx 512");
  }
}

TEST(EvalPerplexityCli, MatchesTheReferenceAndGivesZeroKlAgainstItself) {
  model::SafetensorsFile f(kLlama + "/reference.safetensors");
  const Reference ref = load_reference(f);
  std::ifstream rj(kLlama + "/reference.json");
  const auto info = nlohmann::json::parse(rj);
  const std::string text = temp_path("text.txt"), logits = temp_path("logits.bin");
  std::ofstream(text) << info.at("prompt").get<std::string>();
  const std::string ctx = std::to_string(ref.ids.size());
  const std::string base = "eval perplexity --model " + kLlama + " --text " + text + " --ctx " + ctx;

  auto saved = run_cli(base + " --save-logits " + logits, "", /*merge_stderr=*/false);
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  const auto s = nlohmann::json::parse(saved.output);
  EXPECT_NEAR(s.at("perplexity").get<double>(), reference_perplexity(ref, static_cast<int64_t>(ref.ids.size())), 1e-3);
  const auto T = static_cast<int64_t>(ref.ids.size());
  EXPECT_EQ(s.at("tokens_scored").get<int64_t>(), T - 1 - T / 2);
  EXPECT_GT(s.at("bits_per_byte").get<double>(), 0.0);

  auto again = run_cli(base + " --reference-logits " + logits, "", false);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const auto k = nlohmann::json::parse(again.output);
  EXPECT_EQ(k.at("mean_kl").get<double>(), 0.0);
  EXPECT_EQ(k.at("p99_kl").get<double>(), 0.0);
  EXPECT_EQ(k.at("same_top1").get<double>(), 1.0);
  EXPECT_EQ(k.at("perplexity").get<double>(), s.at("perplexity").get<double>());

  // Logits of another --ctx are refused, naming the file and what differs.
  auto other = run_cli("eval perplexity --model " + kLlama + " --text " + text + " --ctx 40 --reference-logits " + logits);
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.output.find(logits + ": scored"), std::string::npos) << other.output;
  EXPECT_NE(other.output.find("expected the same text, tokenizer, --ctx and --max-windows"), std::string::npos) << other.output;
  fs::remove(text);
  fs::remove(logits);
}

TEST(LogitsFile, RoundTripsAndRefusesAForeignFile) {
  const std::string path = temp_path("rt.logits");
  const std::vector<int32_t> targets = {3, 1, 4};
  eval::LogitsWriter w(path, {2, 3, 8, eval::targets_sha256(targets), "m"});
  const std::vector<float> rows = {0.5f, -1.0f, 2.0f, 3.0f, -4.0f, 0.25f};
  w.append(rows);
  w.close();
  eval::LogitsReader r(path);
  EXPECT_EQ(r.header().tokens, 3);
  EXPECT_EQ(r.header().targets_sha256, eval::targets_sha256(targets));
  EXPECT_EQ(r.row(2)[0], -4.0f);
  EXPECT_EQ(r.row(2)[1], 0.25f);

  const std::string text = temp_path("not.logits");
  std::ofstream(text) << "hello, this is not a logits file";
  try {
    eval::LogitsReader bad(text);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), text + ": not a logits file (expected it to start with \"SXLOGITS\", as --save-logits writes)");
  }
  fs::remove(path);
  fs::remove(text);
}
