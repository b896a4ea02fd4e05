#pragma once
// A quality gate: the bars a candidate (a quantization, a precision choice, a tuned recipe) must clear
// against the incumbent on the same tokens and items. A plain JSON file a user can edit (eval/gates/*.json):
//   {"name": "8bit", "description": "...", "max_mean_kl": 0.002, "max_p99_kl": 0.05,
//    "min_same_top1": 0.975, "max_perplexity_ratio": 1.002, "task_alpha": 0.05}
// Every key is optional (a bar left out is not checked); unknown keys are errors. task_alpha: a task score
// drop whose exact McNemar p-value is below it fails the gate.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace synaptix::eval {

struct QualityGate {
  std::string name, description;
  std::optional<double> max_mean_kl, max_p99_kl, min_same_top1, max_perplexity_ratio, task_alpha;
};

// `where` names the file in errors.
QualityGate gate_from_json(const nlohmann::json& j, const std::string& where);
QualityGate load_gate(const std::string& path);

// What a comparison measured. Perplexity figures are absent when no text was compared; tasks when no set.
struct TaskComparison {
  std::string name;
  std::vector<uint8_t> incumbent_correct, candidate_correct;  // per item, paired
};
struct ComparisonFigures {
  std::optional<double> mean_kl, p99_kl, same_top1, perplexity_ratio;
  std::vector<TaskComparison> tasks;
};

struct CriterionResult {
  std::string name;  // e.g. "mean_kl", "task gsm8k"
  bool pass = false;
  std::string line;  // "mean KL 0.00012 <= 0.002: pass"
};

struct GateVerdict {
  std::vector<CriterionResult> criteria;
  bool pass = false;  // every criterion passed (and at least one was checked)
};

GateVerdict apply_gate(const QualityGate& g, const ComparisonFigures& f);

}  // namespace synaptix::eval
