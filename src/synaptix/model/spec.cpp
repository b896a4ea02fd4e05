#include "synaptix/model/spec.h"

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"

namespace synaptix::model {

using nlohmann::json;

const char* family_name(Family f) {
  switch (f) {
    case Family::Llama: return "llama";
    case Family::Mistral: return "mistral";
    case Family::Qwen2: return "qwen2";
    case Family::Qwen3: return "qwen3";
    case Family::Mixtral: return "mixtral";
    case Family::Qwen3Moe: return "qwen3_moe";
  }
  return "?";
}

bool Spec::layer_is_moe(int64_t layer) const {
  if (!is_moe()) return false;
  for (int64_t l : mlp_only_layers)
    if (l == layer) return false;
  return decoder_sparse_step <= 1 || (layer + 1) % decoder_sparse_step == 0;
}

int64_t Spec::parameter_count() const {
  int64_t h = hidden_size;
  int64_t attn = h * q_dim() + 2 * h * kv_dim() + q_dim() * h;
  if (attention_bias) attn += q_dim() + 2 * kv_dim();
  if (qk_norm) attn += 2 * head_dim;
  int64_t total = 0;
  for (int64_t l = 0; l < num_layers; ++l) {
    int64_t mlp = layer_is_moe(l) ? num_experts * 3 * h * moe_intermediate_size + num_experts * h
                                  : 3 * h * intermediate_size;
    total += attn + mlp + 2 * h;
  }
  total += vocab_size * h + h;
  if (!tie_word_embeddings) total += vocab_size * h;
  return total;
}

namespace {

// Typed access to config keys with errors that name the file, the key and what was expected.
struct Reader {
  const json& j;
  const std::string& where;

  const json* find(const char* key) const {
    auto it = j.find(key);
    return (it == j.end() || it->is_null()) ? nullptr : &*it;
  }
  int64_t int_required(const char* key) const {
    const json* v = find(key);
    if (!v) fail(where, ": missing key \"", key, "\" (expected an integer)");
    return as_int(*v, key);
  }
  int64_t int_or(const char* key, int64_t dflt) const {
    const json* v = find(key);
    return v ? as_int(*v, key) : dflt;
  }
  int64_t as_int(const json& v, const char* key) const {
    if (!v.is_number_integer()) fail(where, ": key \"", key, "\" is ", v.type_name(), ", expected an integer");
    int64_t x = v.get<int64_t>();
    if (x < 0) fail(where, ": key \"", key, "\" is ", x, ", expected a non-negative integer");
    return x;
  }
  double num_or(const json& obj, const char* key, double dflt) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return dflt;
    if (!it->is_number()) fail(where, ": key \"", key, "\" is ", it->type_name(), ", expected a number");
    return it->get<double>();
  }
  bool bool_or(const char* key, bool dflt) const {
    const json* v = find(key);
    if (!v) return dflt;
    if (!v->is_boolean()) fail(where, ": key \"", key, "\" is ", v->type_name(), ", expected true or false");
    return v->get<bool>();
  }
};

void parse_rope(const Reader& r, Spec& s) {
  // transformers 5: rope_parameters {rope_theta, rope_type, factor, ...}
  // transformers 4: rope_theta at top level, rope_scaling {type|rope_type, factor, ...} or null
  const json* params = r.find("rope_parameters");
  const json* scaling = r.find("rope_scaling");
  s.rope_theta = r.num_or(r.j, "rope_theta", 10000.0);
  const json* obj = params ? params : scaling;
  if (!obj) return;
  if (!obj->is_object()) fail(r.where, ": key \"", params ? "rope_parameters" : "rope_scaling", "\" is ",
                              obj->type_name(), ", expected an object");
  s.rope_theta = r.num_or(*obj, "rope_theta", s.rope_theta);
  RopeScaling& rs = s.rope_scaling;
  std::string type = "default";
  if (auto it = obj->find("rope_type"); it != obj->end() && it->is_string()) type = *it;
  else if (auto it2 = obj->find("type"); it2 != obj->end() && it2->is_string()) type = *it2;
  if (type == "su" || type == "longrope") fail(r.where, ": rope type \"", type, "\" is not supported (expected "
                                                "default, linear, dynamic, yarn or llama3)");
  if (type != "default" && type != "linear" && type != "dynamic" && type != "yarn" && type != "llama3")
    fail(r.where, ": unknown rope type \"", type, "\" (expected default, linear, dynamic, yarn or llama3)");
  rs.type = type;
  rs.factor = r.num_or(*obj, "factor", 1.0);
  rs.low_freq_factor = r.num_or(*obj, "low_freq_factor", 1.0);
  rs.high_freq_factor = r.num_or(*obj, "high_freq_factor", 4.0);
  rs.original_max_position_embeddings =
      static_cast<int64_t>(r.num_or(*obj, "original_max_position_embeddings",
                                    static_cast<double>(s.max_position_embeddings)));
  rs.beta_fast = r.num_or(*obj, "beta_fast", 32.0);
  rs.beta_slow = r.num_or(*obj, "beta_slow", 1.0);
  if (auto it = obj->find("attention_factor"); it != obj->end() && it->is_number()) rs.attention_factor = *it;
  if (auto it = obj->find("mscale"); it != obj->end() && it->is_number()) rs.mscale = *it;
  if (auto it = obj->find("mscale_all_dim"); it != obj->end() && it->is_number()) rs.mscale_all_dim = *it;
  if (type == "llama3" && rs.original_max_position_embeddings <= 0)
    fail(r.where, ": rope type llama3 needs \"original_max_position_embeddings\" > 0");
  if (type != "default" && rs.factor <= 0) fail(r.where, ": rope \"factor\" must be > 0, got ", rs.factor);
}

std::vector<int64_t> token_ids(const Reader& r, const char* key) {
  const json* v = r.find(key);
  std::vector<int64_t> out;
  if (!v) return out;
  if (v->is_number_integer()) out.push_back(v->get<int64_t>());
  else if (v->is_array()) {
    for (const auto& e : *v) {
      if (!e.is_number_integer()) fail(r.where, ": key \"", key, "\" must hold integers");
      out.push_back(e.get<int64_t>());
    }
  } else {
    fail(r.where, ": key \"", key, "\" is ", v->type_name(), ", expected an integer or a list of integers");
  }
  return out;
}

}  // namespace

Spec parse_spec(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": expected a JSON object at the top level");
  Reader r{j, where};
  Spec s;
  const json* mt = r.find("model_type");
  if (!mt || !mt->is_string()) fail(where, ": missing key \"model_type\" (expected a string such as \"llama\")");
  s.model_type = mt->get<std::string>();
  if (s.model_type == "llama") s.family = Family::Llama;
  else if (s.model_type == "mistral") s.family = Family::Mistral;
  else if (s.model_type == "qwen2") s.family = Family::Qwen2;
  else if (s.model_type == "qwen3") s.family = Family::Qwen3;
  else if (s.model_type == "mixtral") s.family = Family::Mixtral;
  else if (s.model_type == "qwen3_moe") s.family = Family::Qwen3Moe;
  else
    fail(where, ": unknown model_type \"", s.model_type,
         "\" (supported: llama, mistral, qwen2, qwen3, mixtral, qwen3_moe)");

  if (const json* act = r.find("hidden_act"); act && (!act->is_string() || (*act != "silu" && *act != "swish")))
    fail(where, ": hidden_act ", act->dump(), " is not supported (expected \"silu\")");

  s.vocab_size = r.int_required("vocab_size");
  s.hidden_size = r.int_required("hidden_size");
  s.num_layers = r.int_required("num_hidden_layers");
  s.num_heads = r.int_required("num_attention_heads");
  s.num_kv_heads = r.int_or("num_key_value_heads", s.num_heads);
  if (s.vocab_size == 0 || s.hidden_size == 0 || s.num_layers == 0 || s.num_heads == 0 || s.num_kv_heads == 0)
    fail(where, ": vocab_size, hidden_size, num_hidden_layers and the head counts must be > 0");
  if (s.num_heads % s.num_kv_heads != 0)
    fail(where, ": num_attention_heads (", s.num_heads, ") must be a multiple of num_key_value_heads (",
         s.num_kv_heads, ")");
  if (r.find("head_dim")) s.head_dim = r.int_required("head_dim");
  else {
    if (s.hidden_size % s.num_heads != 0)
      fail(where, ": hidden_size (", s.hidden_size, ") is not divisible by num_attention_heads and no head_dim is given");
    s.head_dim = s.hidden_size / s.num_heads;
  }
  if (s.head_dim == 0 || s.head_dim % 2 != 0) fail(where, ": head_dim must be even and > 0, got ", s.head_dim);
  s.max_position_embeddings = r.int_or("max_position_embeddings", 4096);
  s.rms_norm_eps = r.num_or(j, "rms_norm_eps", 1e-6);
  s.partial_rotary_factor = r.num_or(j, "partial_rotary_factor", 1.0);
  s.tie_word_embeddings = r.bool_or("tie_word_embeddings", false);
  s.attention_bias = r.bool_or("attention_bias", false) || s.family == Family::Qwen2;
  s.qk_norm = s.family == Family::Qwen3 || s.family == Family::Qwen3Moe;
  parse_rope(r, s);

  bool moe = s.family == Family::Mixtral || s.family == Family::Qwen3Moe;
  if (moe) {
    s.num_experts = r.find("num_local_experts") ? r.int_required("num_local_experts") : r.int_required("num_experts");
    s.num_experts_per_tok = r.int_required("num_experts_per_tok");
    if (s.num_experts == 0 || s.num_experts_per_tok == 0 || s.num_experts_per_tok > s.num_experts)
      fail(where, ": num_experts_per_tok (", s.num_experts_per_tok, ") must be in 1..num_experts (", s.num_experts, ")");
    s.norm_topk_prob = s.family == Family::Mixtral ? true : r.bool_or("norm_topk_prob", false);
    s.moe_intermediate_size = s.family == Family::Qwen3Moe ? r.int_required("moe_intermediate_size")
                                                           : r.int_required("intermediate_size");
    s.decoder_sparse_step = r.int_or("decoder_sparse_step", 1);
    if (const json* mol = r.find("mlp_only_layers")) {
      if (!mol->is_array()) fail(where, ": key \"mlp_only_layers\" must be a list of layer indices");
      for (const auto& e : *mol) s.mlp_only_layers.push_back(e.get<int64_t>());
    }
  }
  s.intermediate_size = (moe && s.family == Family::Mixtral) ? 0 : r.int_or("intermediate_size", 0);
  bool needs_dense = !moe;
  for (int64_t l = 0; l < s.num_layers && moe; ++l) needs_dense |= !s.layer_is_moe(l);
  if (needs_dense && s.intermediate_size == 0) s.intermediate_size = r.int_required("intermediate_size");

  // Sliding window: mistral applies it to every layer; qwen-style configs only when use_sliding_window,
  // from layer max_window_layers on; `layer_types` (transformers 5) is explicit and wins.
  s.sliding_window = r.int_or("sliding_window", 0);
  s.layer_sliding.assign(static_cast<size_t>(s.num_layers), false);
  if (s.sliding_window > 0) {
    if (const json* lt = r.find("layer_types")) {
      if (!lt->is_array() || static_cast<int64_t>(lt->size()) != s.num_layers)
        fail(where, ": key \"layer_types\" must be a list of ", s.num_layers, " strings");
      for (int64_t l = 0; l < s.num_layers; ++l) s.layer_sliding[l] = (*lt)[l] == "sliding_attention";
    } else if (s.family == Family::Mistral || s.family == Family::Mixtral) {
      s.layer_sliding.assign(static_cast<size_t>(s.num_layers), true);
    } else if (r.bool_or("use_sliding_window", false)) {
      int64_t from = r.int_or("max_window_layers", 0);
      for (int64_t l = from; l < s.num_layers; ++l) s.layer_sliding[l] = true;
    }
  }

  if (const json* dt = r.find("dtype") ? r.find("dtype") : r.find("torch_dtype")) {
    if (dt->is_string() && !parse_dtype(dt->get<std::string>(), &s.dtype))
      fail(where, ": dtype \"", dt->get<std::string>(), "\" is not supported (expected bfloat16, float16 or float32)");
  }
  s.eos_token_ids = token_ids(r, "eos_token_id");
  if (auto bos = token_ids(r, "bos_token_id"); !bos.empty()) s.bos_token_id = bos.front();
  return s;
}

Spec load_spec(const std::string& config_path) {
  std::string text = read_text_file(config_path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(config_path, ": invalid JSON (", e.what(), ")");
  }
  return parse_spec(j, config_path);
}

json spec_to_json(const Spec& s) {
  json rope = {{"type", s.rope_scaling.type}, {"theta", s.rope_theta}, {"factor", s.rope_scaling.factor}};
  if (s.rope_scaling.type == "llama3") {
    rope["low_freq_factor"] = s.rope_scaling.low_freq_factor;
    rope["high_freq_factor"] = s.rope_scaling.high_freq_factor;
    rope["original_max_position_embeddings"] = s.rope_scaling.original_max_position_embeddings;
  }
  json j = {{"family", family_name(s.family)},
            {"vocab_size", s.vocab_size},
            {"hidden_size", s.hidden_size},
            {"intermediate_size", s.intermediate_size},
            {"num_layers", s.num_layers},
            {"num_heads", s.num_heads},
            {"num_kv_heads", s.num_kv_heads},
            {"head_dim", s.head_dim},
            {"max_position_embeddings", s.max_position_embeddings},
            {"rms_norm_eps", s.rms_norm_eps},
            {"rope", rope},
            {"tie_word_embeddings", s.tie_word_embeddings},
            {"attention_bias", s.attention_bias},
            {"qk_norm", s.qk_norm},
            {"sliding_window", s.sliding_window},
            {"dtype", std::string(dtype_name(s.dtype))},
            {"parameters", s.parameter_count()}};
  if (s.is_moe()) {
    j["experts"] = {{"num_experts", s.num_experts},
                    {"experts_per_token", s.num_experts_per_tok},
                    {"moe_intermediate_size", s.moe_intermediate_size},
                    {"norm_topk_prob", s.norm_topk_prob}};
  }
  return j;
}

}  // namespace synaptix::model
