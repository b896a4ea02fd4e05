#pragma once
// The model a command runs with --recipe R: loaded, with R's weight formats applied at load (its "quant"
// section, or a standalone quantization recipe of older builds) through the on-disk quantized cache, and what
// the executor should take from R. Shared by generate, serve, bench and eval.
#include <memory>
#include <optional>
#include <string>

#include "synaptix/model/model.h"
#include "synaptix/quant/quant_recipe.h"

namespace synaptix::app {

struct RecipeModel {
  std::unique_ptr<model::Model> model;
  std::optional<quant::QuantRecipe> quant;  // the formats applied, if R has any
  // What make_executor gets: R, or "" when R carries only formats (no kernels or plan to load).
  std::string executor_recipe;
};

// Applies `quant` to a loaded model from the default cache ($SYNAPTIX_CACHE_DIR/quant), saying on stderr
// what it did. `where` names the recipe in errors (a tensor the model lacks, a group that does not divide a
// row). The CPU executor runs every weight format (kernels/linear/quant_formats and the tuned families); an
// executor without a kernel for a format refuses it by name when it is built (make_cuda_executor).
void apply_recipe_formats(model::Model& m, const quant::QuantRecipe& quant, const std::string& where);

// Loads model_path for recipe_path ("" or "none": as `gguf` says). With formats, a GGUF file is expanded to
// bf16 before quantizing, as `synaptix quantize` and `eval compare --candidate quant=` do, so all three run
// the same bytes. Throws synaptix::Error naming R for the bad inputs above and for an unknown format.
RecipeModel load_model_for_recipe(const std::string& model_path, const std::string& recipe_path,
                                  model::GgufWeights gguf = model::GgufWeights::Native);

}  // namespace synaptix::app
