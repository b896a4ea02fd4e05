#include "synaptix/eval_subject.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/recipe_model.h"
#include "synaptix/prompt_builder.h"

namespace synaptix::app {
namespace {

void set_kv(Precision& p, const std::string& v, const std::string& where) {
  const kernels::KvFormat f = kernels::parse_kv_format(v, where + ": kv=" + v);
  p.kv_f32 = f == kernels::KvFormat::F32;
  if (!p.kv_f32) p.narrow_kv = f;
}

void set_products(Precision& p, const std::string& v, const std::string& where) {
  if (v != "1" && v != "2") fail(where, ": products=", v, ", expected 1 or 2 (bf16 products per tensor-core GEMM)");
  p.split_bf16 = v == "2";
}

void set_activations(Precision& p, const std::string& v, const std::string& where) {
  if (v != "bf16" && v != "fp8")
    fail(where, ": activations=", v, ", expected bf16 or fp8 (W8A8: E4M3 per token, fp8-e4m3-pc weights, CUDA)");
  p.fp8_activations = v == "fp8";
}

// A recipe's optional "precision" section: the choice `eval compare` made for it. Returns whether the recipe
// carries kernels (a precision-only recipe is how a CUDA choice is recorded: CUDA kernels are not in recipes yet).
bool precision_from_recipe(const std::string& path, Precision& p) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open the recipe");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  // A CUDA recipe carries a whole-step plan instead of kernels: the executor needs the file either way.
  const bool has_kernels = j.is_object() && ((j.contains("kernels") && !j.at("kernels").empty()) || j.contains("whole_step"));
  if (!j.is_object() || !j.contains("precision")) return has_kernels;
  const auto& s = j.at("precision");
  const std::string where = path + ": \"precision\"";
  if (!s.is_object()) fail(where, " is ", s.type_name(), ", expected {\"kv_cache\": ..., \"bf16_products\": ...}");
  for (const auto& [k, v] : s.items()) {
    if (k == "kv_cache" && v.is_string()) set_kv(p, v.get<std::string>(), where);
    else if (k == "bf16_products" && v.is_number_integer()) set_products(p, std::to_string(v.get<int64_t>()), where);
    else if (k == "activations" && v.is_string()) set_activations(p, v.get<std::string>(), where);
    else fail(where, ": key \"", k, "\" = ", v.dump(), " (expected \"kv_cache\": one of ", kernels::kv_format_names(),
              ", \"bf16_products\": 1|2, or \"activations\": \"bf16\"|\"fp8\")");
  }
  return has_kernels;
}

// quant=FILE (a recipe with a "quant" section, or a standalone quantization recipe) is applied at load, as
// are the formats of recipe=R: a GGUF file is expanded to bf16 first in both cases (recipe_model.h).
std::unique_ptr<model::Model> load_subject_model(const SubjectSpec& s) {
  if (s.quant.empty()) return load_model_for_recipe(s.model, s.recipe).model;
  auto m = model::load_model(s.model, model::GgufWeights::Bf16);
  apply_recipe_formats(*m, quant::load_quant_recipe(s.quant), "quant " + s.quant);
  return m;
}

}  // namespace

std::string SubjectSpec::describe() const {
  std::string s = "model=" + model;
  if (!recipe.empty()) s += ",recipe=" + recipe;
  if (!quant.empty()) s += ",quant=" + quant;
  return s + ",target=" + target + ",kv=" + kernels::kv_format_name(precision.kv_format()) +
         ",products=" + (precision.split_bf16 ? "2" : "1") + (precision.fp8_activations ? ",activations=fp8" : "");
}

SubjectSpec parse_subject(const std::string& spec, const std::string& flag, const std::string& default_model) {
  SubjectSpec s;
  s.model = default_model;
  std::vector<std::pair<std::string, std::string>> kvs;
  const std::string where = flag + " \"" + spec + "\"";
  for (size_t b = 0; b <= spec.size();) {
    size_t e = spec.find(',', b);
    if (e == std::string::npos) e = spec.size();
    const std::string item = spec.substr(b, e - b);
    b = e + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) fail(where, ": \"", item, "\" is not key=value");
    kvs.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  for (const auto& [k, v] : kvs) {
    if (k == "model") s.model = v;
    else if (k == "recipe") s.recipe = v;
    else if (k == "quant") s.quant = v;
    else if (k == "target") s.target = v;
    else if (k != "kv" && k != "products" && k != "activations")
      fail(where, ": unknown key \"", k, "\" (expected model, recipe, quant, target, kv, products or activations)");
  }
  if (!s.recipe.empty()) s.recipe_kernels = precision_from_recipe(s.recipe, s.precision);
  for (const auto& [k, v] : kvs) {
    if (k == "kv") set_kv(s.precision, v, where);
    if (k == "products") set_products(s.precision, v, where);
    if (k == "activations") set_activations(s.precision, v, where);
  }
  if (s.model.empty()) fail(where, ": no model (give model=PATH, or --model for both sides)");
  parse_target(s.target);  // refuse a bad target before loading anything
  return s;
}

SubjectSpec subject_from_flags(const std::string& model, const std::string& recipe, const std::string& target) {
  SubjectSpec s;
  s.model = model;
  s.recipe = recipe;
  s.target = target;
  if (!recipe.empty()) s.recipe_kernels = precision_from_recipe(recipe, s.precision);
  parse_target(target);
  return s;
}

Subject::Subject(SubjectSpec s)
    : spec(std::move(s)), model(load_subject_model(spec)), tok(model::Tokenizer::load(spec.model)) {}

void Subject::build_executor(int64_t positions) {
  engine::KvConfig kv;
  kv.num_blocks = (positions + kv.block_size - 1) / kv.block_size + 1;
  // A recipe without kernels only records a precision choice; the executor gets the choice, not the file.
  bundle = make_executor(*model, parse_target(spec.target), kv, spec.recipe_kernels ? spec.recipe : "", spec.precision);
}

std::vector<int64_t> Subject::eos_ids() const {
  std::vector<int64_t> eos = model->spec.eos_token_ids;
  if (auto e = tok.eos_id(); e && std::find(eos.begin(), eos.end(), *e) == eos.end()) eos.push_back(*e);
  return eos;
}

std::vector<int32_t> Subject::encode(const std::string* prompt, const nlohmann::json& messages) const {
  return prompt ? encode_prompt(tok, *prompt) : encode_chat(tok, messages);
}

}  // namespace synaptix::app
