#pragma once
// Checked-in recipes (recipes/ at the repository root): plans measured on a known machine, which a device of
// that kind gets by default when the user names no recipe. They replace defaults that would otherwise be
// written into code for one GPU: each records the machine and the timings that chose it. A recipe for a
// model shape comes first, then the device kind's defaults (rules over shapes, `"any_model": true`); where
// none matches, the executors keep their built-in fallbacks.
#include <optional>
#include <string>

#include "synaptix/model/spec.h"
#include "synaptix/registry/recipe.h"

namespace synaptix::registry {

// $SYNAPTIX_RECIPES_DIR, else recipes/ of the repository the program sits in (its build directory or
// .gpu-carry/bin/ one or two levels below the root), else the source tree's (SYNAPTIX_SOURCE_DIR).
std::string builtin_recipes_dir();

// "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm" of "cuda:NVIDIA H100 80GB HBM3:sm_90a:132sm:drv13000": the
// device without the driver version, which does not change what the hardware does best.
std::string cuda_device_kind(const std::string& device_fingerprint);

// Whether a recipe's model.shape ({hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads,
// head_dim, vocab_size} and model_type) describes `spec` (a dense model of exactly these dimensions).
bool recipe_fits_model(const Recipe& r, const model::Spec& spec);

struct BuiltinRecipe {
  Recipe recipe;     // its target rewritten to this device's exact fingerprint
  std::string path;  // the file it came from
  std::string note;  // for the user: which file, the machine it was measured on, the driver when it differs
};

// Whether a recipe is a device kind's defaults ("model": {"any_model": true, ...}): rules over shapes
// ("gemv_rules") and per-step-size choices measured on that device, for any model without its own recipe.
bool recipe_is_device_defaults(const Recipe& r);

// Turns the recipe's whole-step "gemv_rules" into exact entries for every GEMV-sized product (up to the
// plan's gemv_max_rows rows) of `spec`'s step (graph::step_linear_shapes, q|k|v and gate|up fused as the CUDA
// executor holds them); shapes the plan lists keep their entry. Returns how many it added.
int expand_gemv_rules(Recipe& r, const model::Spec& spec);

// The checked-in CUDA recipe, in `dir` (default builtin_recipes_dir()), for this device kind: the one for
// this model shape, else the device kind's defaults (their rules expanded for `spec`); none when no file
// matches (or the directory does not exist). A file that does not parse is an error naming it.
std::optional<BuiltinRecipe> builtin_cuda_recipe(const std::string& device_fingerprint, const model::Spec& spec,
                                                 const std::string& dir = "");

}  // namespace synaptix::registry
