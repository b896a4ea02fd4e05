#include "synaptix/recipe_model.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "synaptix/backend/cache_dir.h"
#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/model/quantized_model.h"

namespace synaptix::app {
namespace {

// Whether R carries anything besides formats that the executor loads (CPU kernels, a CUDA plan, precision).
bool has_executor_part(const std::string& path) {
  const auto j = nlohmann::json::parse(read_text_file(path), nullptr, false);
  if (!j.is_object() || j.contains("synaptix_quant_recipe")) return false;
  return (j.contains("kernels") && !j["kernels"].empty()) || (j.contains("untuned") && !j["untuned"].empty()) ||
         j.contains("whole_step") || j.contains("precision");
}

}  // namespace

void apply_recipe_formats(model::Model& m, const quant::QuantRecipe& quant, const std::string& where) {
  model::QuantApplied a;
  try {
    a = model::apply_quant_recipe(m, quant, backend::default_cache_dir() + "/quant");
  } catch (const Error& e) {
    fail(where, ": ", e.what());
  }
  if (!a.note.empty()) std::fprintf(stderr, "%s\n", a.note.c_str());
  std::fprintf(stderr, "%s: %lld tensors in their weight formats (%s, %lld -> %lld bytes), %s %s\n", where.c_str(),
               static_cast<long long>(a.tensors), quant.method.c_str(), static_cast<long long>(a.bytes_before),
               static_cast<long long>(a.bytes_after), a.from_cache ? "read from" : "quantized, cached in",
               a.cache_file.c_str());
}

RecipeModel load_model_for_recipe(const std::string& model_path, const std::string& recipe_path,
                                  model::GgufWeights gguf) {
  RecipeModel r;
  r.executor_recipe = recipe_path;
  if (!recipe_path.empty() && recipe_path != "none") r.quant = quant::quant_of_file(recipe_path);
  if (!r.quant) {
    r.model = model::load_model(model_path, gguf);
    return r;
  }
  const std::string where = "recipe " + recipe_path;
  if (!has_executor_part(recipe_path)) r.executor_recipe = "";
  r.model = model::load_model(model_path, model::GgufWeights::Bf16);
  apply_recipe_formats(*r.model, *r.quant, where);
  return r;
}

}  // namespace synaptix::app
