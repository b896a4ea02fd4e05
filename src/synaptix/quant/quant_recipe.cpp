#include "synaptix/quant/quant_recipe.h"

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::quant {

using nlohmann::json;

QuantRecipe recipe_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": a quantization recipe must be a JSON object");
  if (!j.contains("synaptix_quant_recipe") || j["synaptix_quant_recipe"] != 1)
    fail(where, ": \"synaptix_quant_recipe\" must be 1 (the version this build reads)");
  QuantRecipe r;
  if (j.contains("model") && j["model"].is_string()) r.model = j["model"].get<std::string>();
  if (j.contains("method")) {
    if (!j["method"].is_string() || (j["method"] != "rtn" && j["method"] != "gptq"))
      fail(where, ": \"method\" is ", j["method"].dump(), " (expected \"rtn\" or \"gptq\")");
    r.method = j["method"].get<std::string>();
  }
  if (!j.contains("tensors") || !j["tensors"].is_object())
    fail(where, ": missing \"tensors\" object (tensor name -> weight format)");
  for (const auto& [name, v] : j["tensors"].items()) {
    const WeightFormat* f = v.is_string() ? weight_format_named(v.get<std::string>()) : nullptr;
    if (!f)
      fail(where, ": tensor \"", name, "\" has format ", v.dump(), ", which is not a weight format (expected one of ",
           weight_format_names(), ")");
    r.tensors[name] = f->dtype;
  }
  return r;
}

QuantRecipe load_quant_recipe(const std::string& path) {
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(path, ": invalid JSON (", e.what(), ")");
  }
  return recipe_from_json(j, path);
}

json recipe_to_json(const QuantRecipe& r) {
  json t = json::object();
  for (const auto& [name, d] : r.tensors) t[name] = std::string(dtype_name(d));
  return {{"synaptix_quant_recipe", 1}, {"model", r.model}, {"method", r.method}, {"tensors", t}};
}

std::string recipe_identity(const QuantRecipe& r) {
  std::string s = "method=" + r.method;
  for (const auto& [name, d] : r.tensors) s += ";" + name + "=" + std::string(dtype_name(d));
  return s;
}

}  // namespace synaptix::quant
