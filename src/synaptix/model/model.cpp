#include "synaptix/model/model.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/model/bind_weights.h"
#include "synaptix/model/gguf_model.h"
#include "synaptix/model/tensor_names.h"

namespace synaptix::model {

namespace fs = std::filesystem;
using nlohmann::json;

int64_t Model::weight_bytes() const {
  std::set<const TensorRef*> seen;
  int64_t total = 0;
  auto add = [&](const TensorRef* t) {
    if (t && seen.insert(t).second) total += static_cast<int64_t>(t->nbytes);
  };
  add(embed);
  add(final_norm);
  add(lm_head);
  for (const auto& l : layers) {
    for (const TensorRef* t : {l.attn_norm, l.q, l.k, l.v, l.o, l.q_bias, l.k_bias, l.v_bias, l.q_norm, l.k_norm,
                               l.mlp_norm, l.post_attn_norm, l.post_mlp_norm, l.gate, l.up, l.down, l.router})
      add(t);
    for (const auto& e : l.experts) {
      add(e.gate);
      add(e.up);
      add(e.down);
    }
  }
  return total;
}

namespace {

// The weight files of a directory: model.safetensors, or the shards named by model.safetensors.index.json.
std::vector<std::string> weight_files(const std::string& dir) {
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(index)) {
    json j;
    try {
      j = json::parse(read_text_file(index.string()));
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
      fail(index.string(), ": invalid JSON (", e.what(), ")");
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail(index.string(), ": missing \"weight_map\" object (tensor name -> shard file)");
    std::set<std::string> shards;
    for (auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) fail(index.string(), ": weight_map entry \"", name, "\" must be a file name");
      shards.insert(file.get<std::string>());
    }
    std::vector<std::string> out;
    for (const auto& s : shards) {
      fs::path p = fs::path(dir) / s;
      if (!fs::exists(p)) fail(index.string(), ": shard \"", s, "\" does not exist in ", dir);
      out.push_back(p.string());
    }
    return out;
  }
  if (fs::exists(single)) return {single.string()};
  fail(dir, ": no model.safetensors or model.safetensors.index.json found");
}

}  // namespace

void bind_weights(Model& m, const std::map<std::string, const TensorRef*>& found) {
  const Spec& s = m.spec;
  auto get = [&](const std::string& n) { return found.at(n); };
  m.embed = get("model.embed_tokens.weight");
  m.final_norm = get("model.norm.weight");
  m.lm_head = s.tie_word_embeddings ? m.embed : get("lm_head.weight");
  m.layers.resize(static_cast<size_t>(s.num_layers));
  for (int64_t l = 0; l < s.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights& L = m.layers[static_cast<size_t>(l)];
    L.attn_norm = get(p + "input_layernorm.weight");
    L.q = get(p + "self_attn.q_proj.weight");
    L.k = get(p + "self_attn.k_proj.weight");
    L.v = get(p + "self_attn.v_proj.weight");
    L.o = get(p + "self_attn.o_proj.weight");
    if (s.attention_bias) {
      L.q_bias = get(p + "self_attn.q_proj.bias");
      L.k_bias = get(p + "self_attn.k_proj.bias");
      L.v_bias = get(p + "self_attn.v_proj.bias");
    }
    if (s.qk_norm) {
      L.q_norm = get(p + "self_attn.q_norm.weight");
      L.k_norm = get(p + "self_attn.k_norm.weight");
    }
    if (s.post_norms) {  // gemma3: norms before and after the attention and the MLP
      L.post_attn_norm = get(p + "post_attention_layernorm.weight");
      L.mlp_norm = get(p + "pre_feedforward_layernorm.weight");
      L.post_mlp_norm = get(p + "post_feedforward_layernorm.weight");
    } else {
      L.mlp_norm = get(p + "post_attention_layernorm.weight");
    }
    if (s.layer_is_moe(l)) {
      const bool mixtral = s.family == Family::Mixtral;
      const std::string moe = p + (mixtral ? "block_sparse_moe." : "mlp.");
      L.router = get(moe + "gate.weight");
      for (int64_t e = 0; e < s.num_experts; ++e) {
        const std::string ep = moe + "experts." + std::to_string(e) + ".";
        L.experts.push_back({get(ep + (mixtral ? "w1" : "gate_proj") + ".weight"),
                             get(ep + (mixtral ? "w3" : "up_proj") + ".weight"),
                             get(ep + (mixtral ? "w2" : "down_proj") + ".weight")});
      }
    } else {
      L.gate = get(p + "mlp.gate_proj.weight");
      L.up = get(p + "mlp.up_proj.weight");
      L.down = get(p + "mlp.down_proj.weight");
    }
  }
}

std::unique_ptr<Model> load_model(const std::string& dir, GgufWeights gguf) {
  if (is_gguf_path(dir)) return load_gguf_model(dir, gguf);
  if (!fs::is_directory(dir)) fail(dir, ": not a directory (expected a Hugging Face model directory)");
  auto m = std::make_unique<Model>();
  m->dir = dir;
  const std::string config = (fs::path(dir) / "config.json").string();
  if (!fs::exists(config)) fail(dir, ": missing config.json");
  m->spec = load_spec(config);
  const Spec& s = m->spec;

  std::map<std::string, const TensorRef*> all;
  for (const auto& path : weight_files(dir)) {
    m->files.push_back(std::make_unique<SafetensorsFile>(path));
    for (const auto& [name, t] : m->files.back()->tensors()) all[name] = &t;
  }
  if (s.model_type == "gemma3") {
    // The multimodal checkpoint keeps the text model under language_model.model.* (as published) or
    // model.language_model.* (as transformers 5 saves it); its vision tower is not read.
    std::map<std::string, const TensorRef*> text;
    for (const auto& [name, t] : all) {
      if (name.starts_with("language_model.")) text[name.substr(15)] = t;
      else if (name.starts_with("model.language_model.")) text["model." + name.substr(21)] = t;
    }
    all.insert(text.begin(), text.end());
  }

  // The expected-tensor table grows with the config's layer and expert counts: the files must hold at least one
  // tensor per layer and three per expert of each MoE layer before it is built.
  int64_t moe_layers = 0;
  for (int64_t l = 0; l < s.num_layers; ++l) moe_layers += s.layer_is_moe(l) ? 1 : 0;
  const int64_t needed = s.num_layers + 3 * s.num_experts * moe_layers;
  if (needed > static_cast<int64_t>(all.size()))
    fail(dir, ": config.json describes ", s.num_layers, " layers", s.is_moe() ? " of " + std::to_string(s.num_experts) + " experts" : "",
         ", which need at least ", needed, " tensors, but the weight files hold ", all.size());

  std::map<std::string, const TensorRef*> found;
  for (const auto& e : expected_tensors(s)) {
    auto it = all.find(e.name);
    if (it == all.end()) fail(dir, ": missing tensor \"", e.name, "\" (expected shape ", [&] {
      TensorRef t;
      t.shape = e.shape;
      return t.shape_str();
    }(), ")");
    const TensorRef* t = it->second;
    if (t->shape != e.shape) {
      TensorRef want;
      want.shape = e.shape;
      fail(t->file, ": tensor \"", e.name, "\" has shape ", t->shape_str(), ", expected ", want.shape_str());
    }
    if (t->dtype != DType::F32 && t->dtype != DType::BF16 && t->dtype != DType::F16)
      fail(t->file, ": tensor \"", e.name, "\" has dtype ", dtype_name(t->dtype), ", expected f32, bf16 or f16");
    found[e.name] = t;
  }
  bind_weights(*m, found);
  return m;
}

}  // namespace synaptix::model
