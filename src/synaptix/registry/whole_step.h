#pragma once
// The recipe's "whole_step" section (tune::WholeStepPlan as JSON) and its "precision" section, each with the
// errors a hand-edited or truncated file deserves: the file, the key path, what was found, what was expected.
//
//   "whole_step": {
//     "format": "synaptix-whole-step/1",
//     "steps_per_launch": 8,
//     "speed": {"fuse": true, "pdl": true, "flash_attention": true, "weight_prefetch": true,
//               "flash_min_tokens": 65, "gemv_max_rows": 8},
//     "timed_precision": {"kv_cache": "bf16", "bf16_products": 1},
//     "gemv": [{"m": 1, "n": 6144, "k": 4096, "warps": 8, "kslices": 8, "rows_per_warp": 2, "unroll": 2,
//               "full_occupancy": 0, "persistent": 0, "prefetch_kb": 0}],
//     "gemv_rules": [{"m": 1, "k_min": 4096, "warps": 8, "kslices": 8, "rows_per_warp": 2, "unroll": 2}],
//     "blaslt_algorithm": [{"m": 2048, "n": 6144, "k": 4096, "algorithm": 3}],
//     "fuse_decode": {"1": true}, "attention_split": {"1": 64}, "o_prefetch": {"1": false},
//     "decode_attention": {"1": {"warps": 16, "keys_per_warp": 4, "cluster": false, "reg_heads": true}},
//     "moe_down_spread": {"1": true}
//   }
// "gemv_rules" (a device kind's defaults, recipes/*-defaults.json) give a schedule to every shape of m rows
// within optional k_min/k_max/n_min/n_max bounds that "gemv" does not list.
// Per-step-size maps are keyed by the step's token count. Every key but "format" may be left out (the
// executor's default); unknown keys are refused, so a misspelt one is not silently ignored.
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/tune/whole_step_plan.h"

namespace synaptix::registry {

inline constexpr const char* kWholeStepFormat = "synaptix-whole-step/1";

nlohmann::json to_json(const tune::WholeStepPlan& p);
// `where` names the file and section in errors.
tune::WholeStepPlan whole_step_from_json(const nlohmann::json& j, const std::string& where);

// {"kv_cache": "f32"|"bf16"|"int8"|"fp8-e4m3", "bf16_products": 1|2}: the format `eval` reads from a recipe.
nlohmann::json to_json(const tune::StepPrecision& p);
tune::StepPrecision precision_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace synaptix::registry
