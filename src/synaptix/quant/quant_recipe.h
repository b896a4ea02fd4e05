#pragma once
// A quantization recipe: the weight format of every matrix it quantizes, by Hugging Face tensor name, and
// how the codes were chosen. A JSON file `synaptix quantize` writes and the loader applies
// (model/quantized_model.h):
//   {"synaptix_quant_recipe": 1, "model": "...", "method": "rtn",
//    "tensors": {"model.layers.0.self_attn.q_proj.weight": "int4-g128", ...}, ...}
// Other keys (the search's table, the gate's verdict) are kept for the reader and ignored by the loader.
// Tensors the recipe does not name stay as loaded.
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "synaptix/core/dtype.h"

namespace synaptix::quant {

struct QuantRecipe {
  std::string model;          // the model it was made for (informational)
  std::string method = "rtn";  // rtn: reproducible from the weights; gptq: its codes live in the quantized cache
  std::map<std::string, DType> tensors;
};

// `where` names the file in errors: an unknown method, a tensor whose format is not a weight format
// (weight_format.h, listing the accepted ones), a wrong version.
QuantRecipe recipe_from_json(const nlohmann::json& j, const std::string& where);
QuantRecipe load_quant_recipe(const std::string& path);
// The recipe's keys (version, model, method, tensors); the caller adds what else it wants recorded.
nlohmann::json recipe_to_json(const QuantRecipe& r);
// A stable text of what determines the quantized bytes (method and tensor formats), for cache keys.
std::string recipe_identity(const QuantRecipe& r);

}  // namespace synaptix::quant
