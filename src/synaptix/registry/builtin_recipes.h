#pragma once
// Checked-in recipes (recipes/ at the repository root): plans measured on a known machine, which a device of
// that kind gets by default when the user names no recipe. They replace defaults that would otherwise be
// written into code for one GPU: each records the machine and the timings that chose it. Where none
// matches, the executors keep their generic defaults.
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

// The checked-in CUDA recipe, in `dir` (default builtin_recipes_dir()), for this device kind and model
// shape; none when no file matches (or the directory does not exist). A file that does not parse is an
// error naming it.
std::optional<BuiltinRecipe> builtin_cuda_recipe(const std::string& device_fingerprint, const model::Spec& spec,
                                                 const std::string& dir = "");

}  // namespace synaptix::registry
