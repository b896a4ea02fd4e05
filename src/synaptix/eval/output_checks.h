#pragma once
// What a golden-set item checks in the model's output, and the checking itself. Every checker but `choice`
// reads the generated text; `choice` is decided by the options' log-likelihood (eval/golden_runner).
//   exact       the output, trimmed, equals `answer` (optionally ignoring case)
//   contains    the output contains `answer`
//   regex       a PCRE2 `pattern` matches somewhere in the output
//   numeric     GSM8K style: the number after the last "####", else the last number in the output,
//               equals `answer` (commas, "$" and a trailing "." ignored) within `tolerance`
//   choice      the option with the highest log-likelihood after the prompt is `answer` (its index)
//   json_schema the output holds one JSON value (bare or in a ``` fence) that validates against `schema`
//   refusal     the output refuses (`refuse: true`) or does not (`refuse: false`), by refusal phrases
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/eval/json_schema.h"

namespace synaptix::eval {

enum class CheckKind { Exact, Contains, Regex, Numeric, Choice, JsonSchema, Refusal };
const char* check_kind_name(CheckKind k);

class OutputPattern {
 public:
  // Throws synaptix::Error starting with `where` when PCRE2 rejects the pattern, with its message and offset.
  OutputPattern(const std::string& pattern, const std::string& where);
  bool found_in(const std::string& text) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
};

struct Check {
  CheckKind kind = CheckKind::Exact;
  std::string answer;  // exact, contains
  bool ignore_case = false;
  std::optional<OutputPattern> pattern;  // regex
  double number = 0, tolerance = 1e-6;   // numeric
  std::vector<std::string> options;      // choice
  int64_t correct_option = 0;
  std::optional<JsonSchema> schema;  // json_schema
  bool must_refuse = false;          // refusal
};

struct CheckOutcome {
  bool correct = false;
  std::string detail;  // what was found, for the per-item results
};

// Not for CheckKind::Choice (throws: that needs the model).
CheckOutcome check_output(const Check& c, const std::string& output);

std::optional<double> final_number(const std::string& text);
std::optional<nlohmann::json> extract_json(const std::string& text);
bool looks_like_refusal(const std::string& text);

}  // namespace synaptix::eval
