#pragma once
// Golden sets: JSONL, one item a line (blank lines and lines starting with "//" are skipped):
//   {"id": "gsm8k-1", "messages": [{"role": "user", "content": "..."}], "max_tokens": 256,
//    "check": {"type": "numeric", "answer": 18}}
// An item has exactly one of "prompt" (plain text, encoded with the tokenizer's special tokens) or
// "messages" (rendered through the model's chat template, as `serve` does), an optional "id" (default: the
// line number) and "max_tokens" (default 128), and a "check" (eval/output_checks.h lists the types and their
// keys). Unknown keys are errors, so a misspelt key never silently changes what is checked. eval/sets/README.md
// documents the format for users.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/eval/output_checks.h"

namespace synaptix::eval {

struct GoldenItem {
  std::string id;
  std::optional<std::string> prompt;
  nlohmann::json messages;  // null when prompt is set
  int64_t max_tokens = 128;
  Check check;
  int64_t line = 0;  // 1-based line in its file
};

// Throws synaptix::Error "<where>: ..." naming the key, what was found and what was expected.
GoldenItem parse_golden_item(const nlohmann::json& j, const std::string& where);
// Throws synaptix::Error "<path>:<line>: ..." for the first malformed line; an empty set is an error too.
std::vector<GoldenItem> load_golden_set(const std::string& path);

}  // namespace synaptix::eval
