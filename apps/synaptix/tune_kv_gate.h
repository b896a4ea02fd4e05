#pragma once
// The quality gate choosing a CPU recipe's KV cache format (tune --kv-formats): each candidate format
// (kernels/attention/kv_format.h: bf16, int8, fp8-e4m3) runs the whole model, with the recipe's kernels and
// weight formats, against the same recipe with an f32 cache on a real text (the comparison `eval compare
// --text` makes, gate eval/gates/*.json). The narrowest format that passes goes into the recipe's
// "precision" section, which generate, serve and eval then run; none passing leaves the cache f32. Every
// verdict is recorded in tuning["kv_gate"].
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/kernels/attention/kv_format.h"
#include "synaptix/registry/recipe.h"
#include "synaptix/tune_precision_gate.h"

namespace synaptix::app {

// "int8,fp8-e4m3": the formats to try (f32 is the incumbent and is refused here); throws naming `flag`.
std::vector<kernels::KvFormat> parse_kv_candidates(const std::string& list, const std::string& flag);

// Needs g.text (else nothing is tried and the reason recorded). Returns what it did, also stored in
// r.tuning["kv_gate"].
nlohmann::json gate_kv_formats(registry::Recipe& r, const std::string& model, const std::string& recipe_path,
                               const PrecisionGateOptions& g, const std::vector<kernels::KvFormat>& candidates);

}  // namespace synaptix::app
