#pragma once
// The quality gate on a tuned CPU recipe's precision choices: kernels that round the activations (bf16, or
// 8 bits per 32 values) are promoted by the tuner within a numeric bound on random inputs; they stay in the
// recipe only when the whole model with them passes the gate (eval/gates) against the exact defaults on a
// real text, the same comparison `eval compare --text` makes. Otherwise they are dropped and their buckets
// keep the default, and the recipe says why.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/registry/recipe.h"

namespace synaptix::app {

struct PrecisionGateOptions {
  std::string text;         // UTF-8 text scored in both runs; empty: rounded activations are not kept
  std::string gate = "8bit";
  int64_t ctx = 512, windows = 4;
};

// The activations a recipe kernel computes with (its generator's CpuGenerator::activations).
std::string kernel_activations(const registry::RecipeKernel& k);

// The best exact kernel the tuning run found for a rounding kernel's bucket, if one beat the default.
using ExactFallback = std::function<std::optional<registry::RecipeKernel>(const registry::RecipeKernel& rounded)>;

// Gates r's rounding kernels for `model` (weights needed); returns what it did, also stored in
// r.tuning["precision_gate"]. Nothing to gate: an empty object. When they are dropped, each bucket takes
// `exact`'s kernel where it gives one, else the default.
nlohmann::json gate_rounded_activations(registry::Recipe& r, const std::string& model, const std::string& recipe_path,
                                        const PrecisionGateOptions& g, const ExactFallback& exact = nullptr);

}  // namespace synaptix::app
