#include "synaptix/model/spec.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/model/validate.h"

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
    case Family::Gemma3: return "gemma3";
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
    if (post_norms) total += 2 * h;
  }
  total += vocab_size * h + h;
  if (!tie_word_embeddings) total += vocab_size * h;
  return total;
}

double Spec::attention_scale() const {
  return 1.0 / std::sqrt(query_pre_attn_scalar > 0 ? query_pre_attn_scalar : static_cast<double>(head_dim));
}

namespace {

// Upper bounds on config sizes: far above any published model, low enough that what is sized from them before
// the weights confirm them (the expected-tensor table, per-layer vectors, parameter counts) stays small and
// cannot overflow.
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxWidth = int64_t{1} << 18;         // hidden_size
constexpr int64_t kMaxFfn = int64_t{1} << 20;           // intermediate sizes
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxHeadDim = 4096;
constexpr int64_t kMaxPositions = int64_t{1} << 30;
constexpr int64_t kMaxExperts = 1024;

// A whole number read as a double (original_max_position_embeddings), refused before the cast when it is not
// finite or not within 0..kMaxPositions.
int64_t position_count(double v, const std::string& where, const char* key) {
  if (!std::isfinite(v) || v < 0 || v > static_cast<double>(kMaxPositions))
    fail(where, ": key \"", key, "\" is ", v, ", expected 0..", kMaxPositions);
  return static_cast<int64_t>(v);
}

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

void parse_rope_object(const Reader& r, const json& obj, const Spec& s, double& theta, RopeScaling& rs);

void parse_rope(const Reader& r, Spec& s) {
  // transformers 5: rope_parameters {rope_theta, rope_type, factor, ...}, or per layer type
  //   {full_attention: {...}, sliding_attention: {...}} (gemma3)
  // transformers 4: rope_theta at top level, rope_scaling {type|rope_type, factor, ...} or null; gemma3 adds
  //   rope_local_base_freq for its sliding-window layers (rope_scaling is the global layers' only)
  const json* params = r.find("rope_parameters");
  const json* scaling = r.find("rope_scaling");
  s.rope_theta = r.num_or(r.j, "rope_theta", 10000.0);
  if (s.family == Family::Gemma3) s.sliding_rope_theta = r.num_or(r.j, "rope_local_base_freq", 10000.0);
  if (params && params->is_object() && (params->contains("full_attention") || params->contains("sliding_attention"))) {
    for (const auto& [type, obj] : params->items()) {
      if (type != "full_attention" && type != "sliding_attention")
        fail(r.where, ": rope_parameters has layer type \"", type, "\" (expected full_attention or sliding_attention)");
      if (!obj.is_object()) fail(r.where, ": key \"rope_parameters.", type, "\" is ", obj.type_name(), ", expected an object");
      if (type == "full_attention") parse_rope_object(r, obj, s, s.rope_theta, s.rope_scaling);
      else parse_rope_object(r, obj, s, s.sliding_rope_theta, s.sliding_rope_scaling);
    }
    return;
  }
  const json* obj = params ? params : scaling;
  if (!obj) return;
  if (!obj->is_object()) fail(r.where, ": key \"", params ? "rope_parameters" : "rope_scaling", "\" is ",
                              obj->type_name(), ", expected an object");
  parse_rope_object(r, *obj, s, s.rope_theta, s.rope_scaling);
}

// One rope object ({rope_theta, rope_type|type, factor, ...}) into theta (kept when absent) and rs.
void parse_rope_object(const Reader& r, const json& obj, const Spec& s, double& theta, RopeScaling& rs) {
  theta = r.num_or(obj, "rope_theta", theta);
  std::string type = "default";
  if (auto it = obj.find("rope_type"); it != obj.end() && it->is_string()) type = *it;
  else if (auto it2 = obj.find("type"); it2 != obj.end() && it2->is_string()) type = *it2;
  if (type == "su" || type == "longrope") fail(r.where, ": rope type \"", type, "\" is not supported (expected "
                                                "default, linear, dynamic, yarn or llama3)");
  if (type != "default" && type != "linear" && type != "dynamic" && type != "yarn" && type != "llama3")
    fail(r.where, ": unknown rope type \"", type, "\" (expected default, linear, dynamic, yarn or llama3)");
  rs.type = type;
  rs.factor = r.num_or(obj, "factor", 1.0);
  rs.low_freq_factor = r.num_or(obj, "low_freq_factor", 1.0);
  rs.high_freq_factor = r.num_or(obj, "high_freq_factor", 4.0);
  rs.original_max_position_embeddings =
      position_count(r.num_or(obj, "original_max_position_embeddings", static_cast<double>(s.max_position_embeddings)),
                     r.where, "original_max_position_embeddings");
  rs.beta_fast = r.num_or(obj, "beta_fast", 32.0);
  rs.beta_slow = r.num_or(obj, "beta_slow", 1.0);
  if (auto it = obj.find("attention_factor"); it != obj.end() && it->is_number()) rs.attention_factor = *it;
  if (auto it = obj.find("mscale"); it != obj.end() && it->is_number()) rs.mscale = *it;
  if (auto it = obj.find("mscale_all_dim"); it != obj.end() && it->is_number()) rs.mscale_all_dim = *it;
  if (type == "llama3" && rs.original_max_position_embeddings <= 0)
    fail(r.where, ": rope type llama3 needs \"original_max_position_embeddings\" > 0");
  if (type != "default" && rs.factor <= 0) fail(r.where, ": rope \"factor\" must be > 0, got ", rs.factor);
  check_positive(theta, r.where, "rope_theta");
  check_positive(rs.factor, r.where, "factor");
  check_positive(rs.low_freq_factor, r.where, "low_freq_factor");
  check_positive(rs.high_freq_factor, r.where, "high_freq_factor");
  if (type == "llama3" && !(rs.high_freq_factor > rs.low_freq_factor))
    fail(r.where, ": rope type llama3 needs \"high_freq_factor\" (", rs.high_freq_factor, ") > \"low_freq_factor\" (",
         rs.low_freq_factor, ")");
  check_finite(rs.beta_fast, r.where, "beta_fast");
  check_finite(rs.beta_slow, r.where, "beta_slow");
  if (rs.attention_factor) check_positive(*rs.attention_factor, r.where, "attention_factor");
  if (rs.mscale) check_finite(*rs.mscale, r.where, "mscale");
  if (rs.mscale_all_dim) check_finite(*rs.mscale_all_dim, r.where, "mscale_all_dim");
}

// A cap of 0 or null is off.
double softcap(const Reader& r, const char* key) {
  const double cap = r.num_or(r.j, key, 0.0);
  if (cap < 0) fail(r.where, ": key \"", key, "\" is ", cap, ", expected a positive number or null");
  return cap;
}

// Gemma 3's numbers beyond the common ones (after dtype: the embedding scale is rounded to it, as the
// reference's bf16 buffer is).
void parse_gemma3(const Reader& r, Spec& s) {
  s.norm_weight_offset = 1.0;
  s.post_norms = true;
  s.query_pre_attn_scalar = r.num_or(r.j, "query_pre_attn_scalar", 256.0);
  if (s.query_pre_attn_scalar <= 0)
    fail(r.where, ": key \"query_pre_attn_scalar\" is ", s.query_pre_attn_scalar, ", expected a positive number");
  s.attn_logit_softcap = softcap(r, "attn_logit_softcapping");
  s.final_logit_softcap = softcap(r, "final_logit_softcapping");
  float scale = static_cast<float>(std::sqrt(static_cast<double>(s.hidden_size)));
  if (s.dtype == DType::BF16) scale = bf16_to_f32(f32_to_bf16(scale));
  else if (s.dtype == DType::F16) scale = f16_to_f32(f32_to_f16(scale));
  s.embedding_scale = scale;
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

// The config of every family, gemma3's after gemma3_text_config filled in its defaults.
static Spec parse_config(const json& j, const std::string& where) {
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
  else if (s.model_type == "gemma3_text") s.family = Family::Gemma3;
  else
    fail(where, ": unknown model_type \"", s.model_type,
         "\" (supported: llama, mistral, qwen2, qwen3, mixtral, qwen3_moe, gemma3_text, gemma3)");

  if (s.family == Family::Gemma3) {
    // gemma3 names it hidden_activation; gelu_new is the same tanh approximation.
    const json* act = r.find("hidden_activation") ? r.find("hidden_activation") : r.find("hidden_act");
    if (act && (!act->is_string() || (*act != "gelu_pytorch_tanh" && *act != "gelu_new")))
      fail(where, ": hidden_activation ", act->dump(), " is not supported (expected \"gelu_pytorch_tanh\")");
    s.mlp_activation = Activation::GeluTanh;
  } else if (const json* act = r.find("hidden_act");
             act && (!act->is_string() || (*act != "silu" && *act != "swish"))) {
    fail(where, ": hidden_act ", act->dump(), " is not supported (expected \"silu\")");
  }

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
  check_int_bounds(s.vocab_size, 1, kMaxVocab, where, "vocab_size");
  check_int_bounds(s.hidden_size, 1, kMaxWidth, where, "hidden_size");
  check_int_bounds(s.num_layers, 1, kMaxLayers, where, "num_hidden_layers");
  check_int_bounds(s.num_heads, 1, kMaxHeads, where, "num_attention_heads");
  check_int_bounds(s.num_kv_heads, 1, s.num_heads, where, "num_key_value_heads");
  check_int_bounds(s.head_dim, 2, kMaxHeadDim, where, "head_dim");
  check_int_bounds(s.max_position_embeddings, 1, kMaxPositions, where, "max_position_embeddings");
  s.rms_norm_eps = r.num_or(j, "rms_norm_eps", 1e-6);
  s.partial_rotary_factor = r.num_or(j, "partial_rotary_factor", 1.0);
  check_positive(s.rms_norm_eps, where, "rms_norm_eps");
  if (!(s.partial_rotary_factor > 0 && s.partial_rotary_factor <= 1))
    fail(where, ": key \"partial_rotary_factor\" is ", s.partial_rotary_factor, ", expected a number in (0, 1]");
  s.tie_word_embeddings = r.bool_or("tie_word_embeddings", false);
  s.attention_bias = r.bool_or("attention_bias", false) || s.family == Family::Qwen2;
  s.qk_norm = s.family == Family::Qwen3 || s.family == Family::Qwen3Moe || s.family == Family::Gemma3;
  parse_rope(r, s);
  check_non_negative(s.sliding_rope_theta, where, "rope_local_base_freq");

  bool moe = s.family == Family::Mixtral || s.family == Family::Qwen3Moe;
  if (moe) {
    s.num_experts = r.find("num_local_experts") ? r.int_required("num_local_experts") : r.int_required("num_experts");
    check_int_bounds(s.num_experts, 1, kMaxExperts, where, r.find("num_local_experts") ? "num_local_experts" : "num_experts");
    s.num_experts_per_tok = r.int_required("num_experts_per_tok");
    if (s.num_experts == 0 || s.num_experts_per_tok == 0 || s.num_experts_per_tok > s.num_experts)
      fail(where, ": num_experts_per_tok (", s.num_experts_per_tok, ") must be in 1..num_experts (", s.num_experts, ")");
    s.norm_topk_prob = s.family == Family::Mixtral ? true : r.bool_or("norm_topk_prob", false);
    s.moe_intermediate_size = s.family == Family::Qwen3Moe ? r.int_required("moe_intermediate_size")
                                                           : r.int_required("intermediate_size");
    check_int_bounds(s.moe_intermediate_size, 1, kMaxFfn, where, "moe_intermediate_size");
    s.decoder_sparse_step = check_int_bounds(r.int_or("decoder_sparse_step", 1), 0, kMaxLayers, where, "decoder_sparse_step");
    if (const json* mol = r.find("mlp_only_layers")) {
      if (!mol->is_array() || static_cast<int64_t>(mol->size()) > s.num_layers)
        fail(where, ": key \"mlp_only_layers\" must be a list of at most ", s.num_layers, " layer indices");
      for (const auto& e : *mol) {
        if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() >= s.num_layers)
          fail(where, ": key \"mlp_only_layers\" holds ", e.dump(), ", expected layer indices 0..", s.num_layers - 1);
        s.mlp_only_layers.push_back(e.get<int64_t>());
      }
    }
  }
  s.intermediate_size = (moe && s.family == Family::Mixtral) ? 0 : r.int_or("intermediate_size", 0);
  bool needs_dense = !moe;
  for (int64_t l = 0; l < s.num_layers && moe; ++l) needs_dense |= !s.layer_is_moe(l);
  if (needs_dense && s.intermediate_size == 0) s.intermediate_size = r.int_required("intermediate_size");
  check_int_bounds(s.intermediate_size, 0, kMaxFfn, where, "intermediate_size");

  // Sliding window: mistral applies it to every layer; qwen-style configs only when use_sliding_window,
  // from layer max_window_layers on; `layer_types` (transformers 5) is explicit and wins.
  s.sliding_window = check_int_bounds(r.int_or("sliding_window", 0), 0, kMaxPositions, where, "sliding_window");
  s.layer_sliding.assign(static_cast<size_t>(s.num_layers), false);
  if (s.sliding_window > 0) {
    if (const json* lt = r.find("layer_types")) {
      if (!lt->is_array() || static_cast<int64_t>(lt->size()) != s.num_layers)
        fail(where, ": key \"layer_types\" must be a list of ", s.num_layers, " strings");
      for (int64_t l = 0; l < s.num_layers; ++l) s.layer_sliding[l] = (*lt)[l] == "sliding_attention";
    } else if (s.family == Family::Gemma3) {
      // Older gemma3 configs: every `sliding_window_pattern`-th layer is global, the others slide.
      const int64_t pattern = r.find("sliding_window_pattern") ? r.int_required("sliding_window_pattern")
                                                                : r.int_or("_sliding_window_pattern", 6);
      if (pattern == 0) fail(where, ": key \"sliding_window_pattern\" must be > 0");
      for (int64_t l = 0; l < s.num_layers; ++l) s.layer_sliding[l] = (l + 1) % pattern != 0;
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
  if (s.family == Family::Gemma3) parse_gemma3(r, s);
  s.eos_token_ids = token_ids(r, "eos_token_id");
  if (auto bos = token_ids(r, "bos_token_id"); !bos.empty()) s.bos_token_id = bos.front();
  for (int64_t id : s.eos_token_ids) check_token_id(id, s.vocab_size, where, "eos_token_id");
  if (s.bos_token_id) check_token_id(*s.bos_token_id, s.vocab_size, where, "bos_token_id");
  return s;
}

namespace {

// A gemma3 config as gemma3_text with transformers' defaults for the keys it leaves out (published configs
// rely on them: a gemma3 text_config often names only its sizes). model_type "gemma3" (the multimodal
// Gemma3ForConditionalGeneration) holds the text model's config in text_config.
json gemma3_text_config(const json& j, const std::string& where) {
  json text = j;
  if (j.at("model_type") == "gemma3") {
    auto tc = j.find("text_config");
    if (tc == j.end() || !tc->is_object())
      fail(where, ": model_type \"gemma3\" needs a \"text_config\" object (the text model's config)");
    text = *tc;
    for (const char* k : {"dtype", "torch_dtype", "eos_token_id", "bos_token_id", "tie_word_embeddings"})
      if ((!text.contains(k) || text[k].is_null()) && j.contains(k)) text[k] = j[k];
    text["model_type"] = "gemma3_text";
  }
  const json defaults = {{"vocab_size", 262208}, {"hidden_size", 2304}, {"intermediate_size", 9216},
                         {"num_hidden_layers", 26}, {"num_attention_heads", 8}, {"num_key_value_heads", 4},
                         {"head_dim", 256}, {"max_position_embeddings", 131072}, {"rms_norm_eps", 1e-6},
                         {"tie_word_embeddings", true}, {"rope_theta", 1000000.0}, {"query_pre_attn_scalar", 256},
                         {"sliding_window", 4096}, {"rope_local_base_freq", 10000.0}, {"eos_token_id", 1},
                         {"bos_token_id", 2}};
  for (const auto& [k, v] : defaults.items())
    if (!text.contains(k) || text[k].is_null()) text[k] = v;
  return text;
}

}  // namespace

Spec parse_spec(const json& j, const std::string& where) {
  if (j.is_object())
    if (auto mt = j.find("model_type"); mt != j.end() && (*mt == "gemma3" || *mt == "gemma3_text")) {
      const bool multimodal = *mt == "gemma3";
      Spec s = parse_config(gemma3_text_config(j, where), multimodal ? where + " (text_config)" : where);
      s.model_type = mt->get<std::string>();
      return s;
    }
  return parse_config(j, where);
}

Spec load_spec(const std::string& config_path) {
  std::string text = read_text_file(config_path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
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
            {"mlp_activation", s.mlp_activation == Activation::GeluTanh ? "gelu_tanh" : "silu"},
            {"dtype", std::string(dtype_name(s.dtype))},
            {"parameters", s.parameter_count()}};
  if (s.family == Family::Gemma3) {
    j["gemma3"] = {{"norm_weight_offset", s.norm_weight_offset}, {"post_norms", s.post_norms},
                   {"embedding_scale", s.embedding_scale}, {"query_pre_attn_scalar", s.query_pre_attn_scalar},
                   {"attn_logit_softcap", s.attn_logit_softcap}, {"final_logit_softcap", s.final_logit_softcap},
                   {"sliding_rope_theta", s.sliding_rope_theta}, {"sliding_rope_type", s.sliding_rope_scaling.type}};
  }
  if (s.is_moe()) {
    j["experts"] = {{"num_experts", s.num_experts},
                    {"experts_per_token", s.num_experts_per_tok},
                    {"moe_intermediate_size", s.moe_intermediate_size},
                    {"norm_topk_prob", s.norm_topk_prob}};
  }
  return j;
}

}  // namespace synaptix::model
