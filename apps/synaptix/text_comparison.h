#pragma once
// Two subjects scored on the same text (llama-perplexity's windows, the incumbent's tokens): perplexity of
// each, and per position the KL divergence and same top-1 of the candidate against the incumbent. What
// `eval compare --text` reports, and what `tune` gates a precision choice with.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/eval/perplexity.h"
#include "synaptix/eval/quality_gate.h"
#include "synaptix/eval_subject.h"

namespace synaptix::app {

// The text's tokens as llama-perplexity takes them: the whole file encoded with the special tokens, each
// window's first token replaced by BOS where the tokenizer adds one (set in po).
std::vector<int32_t> text_ids(const Subject& s, const std::string& path, eval::PerplexityOptions& po);

nlohmann::json perplexity_json(const eval::PerplexityResult& r);

struct TextComparison {
  double mean_kl = 0, p99_kl = 0, same_top1 = 0, perplexity_ratio = 0;
  nlohmann::json report;  // both perplexities and the figures above
};

// Both executors must be built for po.ctx positions. `progress` (may be null) is told each window.
TextComparison compare_on_text(Subject& incumbent, Subject& candidate, const std::string& text_path,
                               eval::PerplexityOptions po, void (*progress)(int64_t window, int64_t windows));

// The figures as the quality gate reads them.
void add_to(eval::ComparisonFigures& f, const TextComparison& c);

// A gate file, or a shipped gate by name (eval/gates/NAME.json: 8bit, 4bit); throws naming both.
std::string gate_path(const std::string& gate);

}  // namespace synaptix::app
