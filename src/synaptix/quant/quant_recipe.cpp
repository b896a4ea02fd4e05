#include "synaptix/quant/quant_recipe.h"

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::quant {

using nlohmann::json;

namespace {

// The keys both forms share; every other key is a note.
QuantRecipe parse_body(const json& j, const std::string& where, const char* version_key) {
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
  for (const auto& [k, v] : j.items())
    if (k != version_key && k != "model" && k != "method" && k != "tensors") r.notes[k] = v;
  return r;
}

}  // namespace

QuantRecipe recipe_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": a quantization recipe must be a JSON object");
  if (!j.contains("synaptix_quant_recipe") || j["synaptix_quant_recipe"] != 1)
    fail(where, ": \"synaptix_quant_recipe\" must be 1 (the version this build reads)");
  return parse_body(j, where, "synaptix_quant_recipe");
}

QuantRecipe quant_section_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": the quant section must be a JSON object, found ", j.type_name());
  if (j.contains("version") && j["version"] != 1)
    fail(where, ": \"version\" is ", j["version"].dump(), " (this build reads version 1)");
  return parse_body(j, where, "version");
}

json quant_section_to_json(const QuantRecipe& r) {
  json j = r.notes.is_object() ? r.notes : json::object();
  json t = json::object();
  for (const auto& [name, d] : r.tensors) t[name] = std::string(dtype_name(d));
  j["version"] = 1;
  j["model"] = r.model;
  j["method"] = r.method;
  j["tensors"] = t;
  return j;
}

std::optional<QuantRecipe> quant_of_file(const std::string& path) {
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(path, ": invalid JSON (", e.what(), ")");
  }
  if (!j.is_object()) fail(path, ": a recipe must be a JSON object, found ", j.type_name());
  if (j.contains("synaptix_quant_recipe")) return recipe_from_json(j, path);
  if (j.contains("quant")) return quant_section_from_json(j["quant"], path + ": quant");
  return std::nullopt;
}

QuantRecipe load_quant_recipe(const std::string& path) {
  auto r = quant_of_file(path);
  if (!r)
    fail(path, ": no weight formats (expected a recipe with a \"quant\" section, as `synaptix quantize --out` "
         "writes, or a standalone quantization recipe)");
  return *r;
}

json recipe_to_json(const QuantRecipe& r) {
  json j = quant_section_to_json(r);
  j.erase("version");
  j["synaptix_quant_recipe"] = 1;
  return j;
}

std::string recipe_identity(const QuantRecipe& r) {
  std::string s = "method=" + r.method;
  for (const auto& [name, d] : r.tensors) s += ";" + name + "=" + std::string(dtype_name(d));
  return s;
}

}  // namespace synaptix::quant
