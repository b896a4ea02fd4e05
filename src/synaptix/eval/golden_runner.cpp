#include "synaptix/eval/golden_runner.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/engine/generator.h"
#include "synaptix/eval/token_agreement.h"
#include "synaptix/model/tokenizer.h"

namespace synaptix::eval {
namespace {

std::vector<int32_t> block_table(const engine::Executor& ex) {
  std::vector<int32_t> t(static_cast<size_t>(ex.num_blocks()));
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>(i);
  return t;
}

void score_options(engine::Executor& ex, const model::Tokenizer& tok, const GoldenItem& item,
                   const std::vector<int32_t>& prompt, ItemResult& r) {
  if (prompt.empty()) fail("item ", item.id, ": a choice item needs a non-empty prompt");
  const auto table = block_table(ex);
  const int64_t V = ex.spec().vocab_size, P = static_cast<int64_t>(prompt.size());
  std::vector<float> last, rows;
  engine::SeqChunk head{prompt, 0, table, false};
  ex.step({&head, 1}, last);  // the prompt's KV stays in place while every option runs after it
  for (const auto& option : item.check.options) {
    const auto ids = tok.encode(option, /*add_special_tokens=*/false);
    if (ids.empty()) fail("item ", item.id, ": option \"", option, "\" encodes to no tokens");
    double lp = -token_nll(last, ids[0]);
    if (ids.size() > 1) {
      engine::SeqChunk c{std::span<const int32_t>(ids.data(), ids.size() - 1), P, table, true};
      ex.step({&c, 1}, rows);
      for (size_t j = 1; j < ids.size(); ++j)
        lp -= token_nll(std::span<const float>(rows.data() + (j - 1) * static_cast<size_t>(V), static_cast<size_t>(V)), ids[j]);
    }
    r.option_logprobs.push_back(lp);
  }
  r.chosen = std::max_element(r.option_logprobs.begin(), r.option_logprobs.end()) - r.option_logprobs.begin();
  r.correct = r.chosen == item.check.correct_option;
  r.detail = "chose option " + std::to_string(r.chosen) + " (\"" + item.check.options[static_cast<size_t>(r.chosen)] + "\")";
}

}  // namespace

int64_t item_positions(const model::Tokenizer& tok, const GoldenItem& item, int64_t prompt_tokens) {
  if (item.check.kind != CheckKind::Choice) return prompt_tokens + item.max_tokens;
  int64_t longest = 0;
  for (const auto& o : item.check.options)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(tok.encode(o, false).size()));
  return prompt_tokens + longest;
}

ItemResult run_golden_item(engine::Executor& ex, const model::Tokenizer& tok, const GoldenItem& item,
                           const std::vector<int32_t>& prompt_ids, const std::vector<int64_t>& eos_ids) {
  ItemResult r;
  r.id = item.id;
  r.kind = item.check.kind;
  r.prompt_tokens = static_cast<int64_t>(prompt_ids.size());
  if (item.check.kind == CheckKind::Choice) {
    score_options(ex, tok, item, prompt_ids, r);
    return r;
  }
  engine::GenerateOptions g;
  g.max_tokens = item.max_tokens;
  g.eos_ids = eos_ids;  // sampling stays the default: temperature 0, greedy
  std::vector<int32_t> out;
  engine::generate(ex, prompt_ids, g, [&](int32_t t) {
    out.push_back(t);
    return true;
  });
  r.generated_tokens = static_cast<int64_t>(out.size());
  r.output = tok.decode(out, /*skip_special_tokens=*/true);
  const CheckOutcome c = check_output(item.check, r.output);
  r.correct = c.correct;
  r.detail = c.detail;
  return r;
}

nlohmann::json to_json(const ItemResult& r) {
  nlohmann::json j = {{"id", r.id}, {"check", check_kind_name(r.kind)}, {"correct", r.correct}};
  if (r.kind == CheckKind::Choice) {
    j["option_logprobs"] = r.option_logprobs;
    j["chosen"] = r.chosen;
  } else {
    j["output"] = r.output;
    j["generated_tokens"] = r.generated_tokens;
  }
  if (!r.detail.empty()) j["detail"] = r.detail;
  j["prompt_tokens"] = r.prompt_tokens;
  return j;
}

SetScore score_set(const std::vector<ItemResult>& results) {
  SetScore s;
  s.items = static_cast<int64_t>(results.size());
  for (const auto& r : results) s.correct += r.correct;
  s.ci95 = wilson_interval(s.correct, s.items);
  return s;
}

}  // namespace synaptix::eval
