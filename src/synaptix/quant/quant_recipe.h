#pragma once
// A quantization recipe: the weight format of every matrix it quantizes, by Hugging Face tensor name, and
// how the codes were chosen. It is the "quant" section of the one recipe the runtime loads
// (registry/recipe.h; `synaptix generate|serve|bench|eval --recipe R` apply it at load through
// model/quantized_model.h):
//   "quant": {"version": 1, "model": "...", "method": "rtn",
//             "tensors": {"model.layers.0.self_attn.q_proj.weight": "int4-g128", ...}, "gate": {...}, ...}
// The standalone file older builds of `synaptix quantize` wrote ({"synaptix_quant_recipe": 1, ...} with the
// same keys) is still read wherever a recipe is. Other keys (the search's table, the gate's verdict) are kept
// as notes for the reader and ignored by the loader. Tensors the recipe does not name stay as loaded.
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/core/dtype.h"

namespace synaptix::quant {

struct QuantRecipe {
  std::string model;          // the model it was made for (informational)
  std::string method = "rtn";  // rtn: reproducible from the weights; gptq: its codes live in the quantized cache
  std::map<std::string, DType> tensors;
  // Everything else the writer recorded (gate verdict, table, figures, calibration), kept verbatim.
  nlohmann::json notes = nlohmann::json::object();
};

// The standalone file (requires "synaptix_quant_recipe": 1). `where` names the file in errors: an unknown
// method, a tensor whose format is not a weight format (weight_format.h, listing the accepted ones), a wrong
// version.
QuantRecipe recipe_from_json(const nlohmann::json& j, const std::string& where);
// A recipe's "quant" section (version 1 when given); the same checks.
QuantRecipe quant_section_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json quant_section_to_json(const QuantRecipe& r);
// The formats of a file: a standalone quantization recipe, or a recipe with a "quant" section; nullopt for a
// recipe without one. Throws naming the file when it is neither JSON nor one of those.
std::optional<QuantRecipe> quant_of_file(const std::string& path);
// quant_of_file, required: throws naming the file when it carries no formats.
QuantRecipe load_quant_recipe(const std::string& path);
// The standalone form's keys (version, model, method, tensors) and the notes.
nlohmann::json recipe_to_json(const QuantRecipe& r);
// A stable text of what determines the quantized bytes (method and tensor formats), for cache keys.
std::string recipe_identity(const QuantRecipe& r);

}  // namespace synaptix::quant
