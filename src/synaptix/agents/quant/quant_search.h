#pragma once
// The quantization search on the CPU: what one tensor group (a layer's seven projections) costs in quality
// when it alone changes format (KL divergence of the next-token distributions on calibration text against
// the model as loaded), then a per-layer assignment of formats under a memory budget, scored as a whole by
// the quality gate (eval/quality_gate.h) against the incumbent on held-out windows.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "synaptix/engine/executor.h"
#include "synaptix/eval/perplexity.h"
#include "synaptix/eval/quality_gate.h"
#include "synaptix/kernels/kernel_set.h"
#include "synaptix/model/model.h"
#include "synaptix/model/quantized_model.h"

namespace synaptix::agents {

// The model's next-token distributions on some windows of a text, saved once, and the figures of the
// model's current weights against them. The model's weight fields may be repointed between calls (the CPU
// executor reads them every step).
class KlScorer {
 public:
  KlScorer(const model::Model& m, std::vector<int32_t> ids, eval::PerplexityOptions po, int64_t first_window,
           int64_t windows, const kernels::KernelSet* ks = nullptr);
  void save_reference();
  // mean / p99 KL, same top-1 and the perplexity ratio of the current weights against the reference.
  eval::ComparisonFigures compare();
  int64_t windows() const { return windows_; }

 private:
  void run(std::vector<eval::ScoredWindow>& out, eval::PerplexityResult& ppl);
  const model::Model& m_;
  std::vector<int32_t> ids_;
  eval::PerplexityOptions po_;
  int64_t first_, windows_;
  std::unique_ptr<engine::Executor> ex_;
  std::vector<eval::ScoredWindow> reference_;
  eval::PerplexityResult reference_ppl_;
};

// Quantized versions of a model's matrices, made once per (tensor, format) and swapped in and out.
class QuantizedTensors {
 public:
  explicit QuantizedTensors(model::Model& m, model::TensorQuantizer quantizer = {});
  // Points the model's fields of `names` at their `format` versions (quantizing them the first time), or
  // back at the loaded tensors with DType::F32 as the format.
  void set(const std::vector<std::string>& names, DType format);
  // Whether every tensor of `names` has rows that are whole groups of `format`.
  bool applicable(const std::vector<std::string>& names, DType format) const;
  int64_t bytes(const std::vector<std::string>& names, DType format) const;  // of the matrices in that format
  const std::map<std::string, const model::TensorRef**>& slots() const { return slots_; }
  // The `format` version of `name` made so far, or nullptr.
  const model::OwnedTensor* made(const std::string& name, DType format) const;

 private:
  model::Model& m_;
  model::TensorQuantizer quantizer_;
  std::map<std::string, const model::TensorRef**> slots_;
  std::map<std::string, const model::TensorRef*> loaded_;
  std::map<std::pair<std::string, DType>, std::unique_ptr<model::OwnedTensor>> made_;
};

// One tensor group: a layer's projections.
std::vector<std::vector<std::string>> layer_groups(const model::Model& m);

struct SensitivityCell {
  bool applicable = false;
  int64_t bytes = 0;
  double mean_kl = 0;  // the group alone in this format, the rest as loaded
};
// cells[group][format index]
using SensitivityTable = std::vector<std::vector<SensitivityCell>>;
SensitivityTable layer_sensitivity(QuantizedTensors& q, KlScorer& s, const std::vector<std::vector<std::string>>& groups,
                                   const std::vector<DType>& formats, void (*progress)(int64_t, int64_t) = nullptr);

// A format per group: every group starts in its most precise applicable format (most bytes); while the total
// exceeds budget_bytes, the group whose next smaller applicable format adds the least KL per byte saved moves
// to it. Without a budget (0), each group takes its smallest format whose KL alone is at most kl_per_group.
// Returns the format index per group (-1: left as loaded, no format applies or fits the rule).
std::vector<int> assign_formats(const SensitivityTable& t, int64_t budget_bytes, double kl_per_group);

}  // namespace synaptix::agents
