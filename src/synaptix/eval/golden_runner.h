#pragma once
// Runs golden-set items through an executor: greedy generation (as `serve` with temperature 0) for the
// text checkers; for `choice`, the summed log-likelihood of each option's tokens after the prompt (the
// prompt's KV is computed once, each option then runs from the prompt's end). The caller encodes the prompt
// (plain or through the chat template) so the runner shares the CLI's prompt path.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "synaptix/engine/executor.h"
#include "synaptix/eval/golden_set.h"
#include "synaptix/eval/paired_stats.h"

namespace synaptix::model { class Tokenizer; }

namespace synaptix::eval {

struct ItemResult {
  std::string id;
  CheckKind kind = CheckKind::Exact;
  bool correct = false;
  std::string output;  // generated text (empty for choice)
  std::string detail;
  std::vector<double> option_logprobs;  // choice: per option, summed over its tokens
  int64_t chosen = -1;
  int64_t prompt_tokens = 0, generated_tokens = 0;
};

// KV positions an item needs: the prompt plus max_tokens, or plus the longest option.
int64_t item_positions(const model::Tokenizer& tok, const GoldenItem& item, int64_t prompt_tokens);

// The executor's KV cache must hold item_positions() positions in blocks 0...
ItemResult run_golden_item(engine::Executor& ex, const model::Tokenizer& tok, const GoldenItem& item,
                           const std::vector<int32_t>& prompt_ids, const std::vector<int64_t>& eos_ids);

nlohmann::json to_json(const ItemResult& r);

struct SetScore {
  int64_t correct = 0, items = 0;
  double score() const { return items ? static_cast<double>(correct) / static_cast<double>(items) : 0; }
  Interval ci95;  // Wilson
};
SetScore score_set(const std::vector<ItemResult>& results);

}  // namespace synaptix::eval
