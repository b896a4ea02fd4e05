#include "synaptix/model/gguf_model.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/model/bind_weights.h"
#include "synaptix/model/tensor_names.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"
#include "synaptix/quant/dequantize_simd.h"

namespace synaptix::model {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// GGUF stores hyperparameters such as rms_norm_eps as f32; config.json has the decimal the author wrote.
// The shortest decimal that rounds to the same f32 recovers it (9.999999747e-06 -> 1e-05).
double f32_decimal(double v) {
  const float f = static_cast<float>(v);
  if (static_cast<double>(f) != v) return v;  // an f64 key: keep it
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf) - 1, f);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

// Well-known end-of-turn tokens llama.cpp also treats as end of generation when the file does not name them
// (an instruct model's chat template ends each turn with one of these, not with tokenizer.ggml.eos_token_id).
constexpr const char* kEndOfTurnTokens[] = {"<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>",
                                            "<|end|>", "<|end_of_text|>"};

// Per-layer tensors: Hugging Face suffix -> GGUF suffix (llama.cpp's tensor names, gguf-py constants.py).
struct LayerName {
  const char* hf;
  const char* gguf;
};
constexpr LayerName kLayerNames[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"pre_feedforward_layernorm", "ffn_norm"},         // gemma3
    {"post_feedforward_layernorm", "post_ffw_norm"},  // gemma3
};

bool architecture_supported(const std::string& a) {
  return a == "llama" || a == "qwen2" || a == "qwen3" || a == "gemma3";
}

// Undoes LlamaModel.permute of convert_hf_to_gguf.py on a [heads * head_dim, cols] matrix of rows of
// row_bytes each: within each head, GGUF row 2i + j holds Hugging Face row j * head_dim / 2 + i (j in {0, 1}).
// Whole rows move, so it is exact for block rows too (a row of a block type is whole blocks).
void unpermute_rows(std::vector<uint8_t>& bytes, int64_t heads, int64_t rows, size_t row_bytes) {
  const int64_t head_dim = rows / heads, half = head_dim / 2;
  std::vector<uint8_t> out(bytes.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < half; ++i) {
        const int64_t hf_row = h * head_dim + j * half + i, gguf_row = h * head_dim + 2 * i + j;
        std::memcpy(out.data() + hf_row * row_bytes, bytes.data() + gguf_row * row_bytes, row_bytes);
      }
  bytes.swap(out);
}

// Dequantizes a whole tensor to f32 or bf16, rows spread over the global thread pool (a row is a whole
// number of blocks: the reader checked dims[0]).
void dequantize_rows(const GgufTensor& t, DType to, uint8_t* out) {
  const int64_t row = t.dims[0], rows = t.numel / row;
  const int64_t row_bytes = *quant::packed_bytes(*t.format, row);
  const size_t grain = static_cast<size_t>(std::max<int64_t>(1, (int64_t{1} << 16) / row));
  ThreadPool::global().parallel_for(static_cast<size_t>(rows), [&](size_t begin, size_t end) {
    const uint8_t* src = t.data + static_cast<int64_t>(begin) * row_bytes;
    const int64_t elems = static_cast<int64_t>(end - begin) * row, first = static_cast<int64_t>(begin) * row;
    if (to == DType::F32)
      quant::dequantize_f32(*t.format, src, elems, reinterpret_cast<float*>(out) + first);
    else
      quant::dequantize_bf16(*t.format, src, elems, reinterpret_cast<uint16_t*>(out) + first);
  }, grain);
}

// The dtype a matrix keeps when loaded natively: the block types the CPU kernels execute at speed (Q4_0,
// Q4_1, Q8_0: kernels/linear/quant_default.h and the generated linear_quant; Q5_0, Q5_1, Q4_K, Q6_K where this
// build has quant/dequantize_simd.h's vectorised rows, i.e. AVX-512), or BF16 / F32 as stored. The rest is
// expanded to bf16 at load, the documented fallback: F16 (whose linear path is the generic one), Q5_K, Q2_K,
// Q3_K, Q8_K, and the others without AVX-512 (their block path would dequantize each row with the scalar
// reference on every call, several times slower per token than reading bf16).
std::optional<DType> native_dtype(const GgufTensor& t) {
  switch (t.format->type) {
    case quant::GgmlType::BF16: return DType::BF16;
    case quant::GgmlType::F32: return DType::F32;
    case quant::GgmlType::Q4_0: case quant::GgmlType::Q4_1: case quant::GgmlType::Q8_0:
      return quant::block_dtype(t.format->type);
    default:
      if (const auto d = quant::block_dtype(t.format->type); d && quant::has_fast_dequantize(*d)) return d;
      return std::nullopt;
  }
}

}  // namespace

bool is_gguf_path(const std::string& path) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) return true;
  std::error_code ec;
  return fs::is_regular_file(path, ec) && has_gguf_magic(path);
}

std::string gguf_tensor_name(const std::string& hf, Family family) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  if (hf.compare(0, prefix.size(), prefix) != 0) return "";
  const size_t dot = hf.find('.', prefix.size());
  if (dot == std::string::npos) return "";
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  std::string rest = hf.substr(dot + 1);
  std::string kind;
  for (const char* k : {".weight", ".bias"})
    if (rest.size() > std::strlen(k) && rest.compare(rest.size() - std::strlen(k), std::strlen(k), k) == 0) {
      kind = k;
      rest.resize(rest.size() - kind.size());
    }
  if (kind.empty()) return "";
  // post_attention_layernorm is the MLP's input norm (ffn_norm) everywhere but gemma3, where it normalises the
  // attention output (post_attention_norm) and pre_feedforward_layernorm is ffn_norm.
  if (rest == "post_attention_layernorm")
    return "blk." + layer + (family == Family::Gemma3 ? ".post_attention_norm" : ".ffn_norm") + kind;
  for (const auto& n : kLayerNames)
    if (rest == n.hf) return "blk." + layer + "." + n.gguf + kind;
  return "";
}

json gguf_config(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  if (!architecture_supported(arch))
    fail(f.path(), ": general.architecture is \"", arch, "\", expected one of llama, qwen2, qwen3, gemma3");
  auto key = [&](const char* k) { return arch + "." + k; };
  if (auto experts = f.find_int(key("expert_count")); experts && *experts > 0)
    fail(f.path(), ": ", key("expert_count"), " is ", *experts, ": mixture-of-experts GGUF files are not supported");
  if (f.find_tensor("rope_freqs.weight"))
    fail(f.path(), ": has per-frequency RoPE factors (tensor \"rope_freqs.weight\", Llama 3.1-style scaling), "
         "which are not supported");

  json c;
  c["model_type"] = arch == "gemma3" ? "gemma3_text" : arch;
  c["hidden_size"] = f.get_int(key("embedding_length"));
  c["num_hidden_layers"] = f.get_int(key("block_count"));
  c["intermediate_size"] = f.get_int(key("feed_forward_length"));
  const int64_t heads = f.get_int(key("attention.head_count"));
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = f.find_int(key("attention.head_count_kv")).value_or(heads);
  c["max_position_embeddings"] = f.get_int(key("context_length"));
  c["rms_norm_eps"] = f32_decimal(f.get_float(key("attention.layer_norm_rms_epsilon")));
  if (auto theta = f.find_float(key("rope.freq_base"))) c["rope_theta"] = f32_decimal(*theta);

  int64_t head_dim = heads > 0 ? c["hidden_size"].get<int64_t>() / heads : 0;
  if (auto k = f.find_int(key("attention.key_length"))) {
    head_dim = *k;
    c["head_dim"] = *k;
    if (auto v = f.find_int(key("attention.value_length")); v && *v != *k)
      fail(f.path(), ": ", key("attention.value_length"), " (", *v, ") differs from ", key("attention.key_length"),
           " (", *k, "); expected equal head sizes");
  }
  if (auto rot = f.find_int(key("rope.dimension_count")); rot && head_dim > 0 && *rot != head_dim)
    c["partial_rotary_factor"] = static_cast<double>(*rot) / static_cast<double>(head_dim);

  if (auto type = f.find_string(key("rope.scaling.type")); type && *type != "none") {
    if (*type != "linear" && *type != "yarn")
      fail(f.path(), ": ", key("rope.scaling.type"), " is \"", *type, "\", expected none, linear or yarn");
    json rs;
    rs["rope_type"] = *type;
    rs["factor"] = f32_decimal(f.get_float(key("rope.scaling.factor")));
    if (*type == "yarn") {
      if (auto orig = f.find_int(key("rope.scaling.original_context_length")))
        rs["original_max_position_embeddings"] = *orig;
      if (auto b = f.find_float(key("rope.scaling.yarn_beta_fast"))) rs["beta_fast"] = f32_decimal(*b);
      if (auto b = f.find_float(key("rope.scaling.yarn_beta_slow"))) rs["beta_slow"] = f32_decimal(*b);
    }
    c["rope_scaling"] = rs;
  }

  // The vocabulary size: the architecture's key, else the token list, else the embedding's rows.
  if (auto v = f.find_int(key("vocab_size"))) c["vocab_size"] = *v;
  else if (f.find("tokenizer.ggml.tokens")) c["vocab_size"] = f.string_array("tokenizer.ggml.tokens").size();
  else if (const GgufTensor* e = f.find_tensor("token_embd.weight"); e && e->dims.size() == 2)
    c["vocab_size"] = e->dims[1];
  else fail(f.path(), ": no ", key("vocab_size"), ", tokenizer.ggml.tokens or token_embd.weight to size the vocabulary");

  c["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
  c["torch_dtype"] = "bfloat16";  // the dtype matrices are dequantized to
  if (auto bos = f.find_int("tokenizer.ggml.bos_token_id")) c["bos_token_id"] = *bos;
  std::vector<int64_t> eos;
  for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (auto id = f.find_int(k)) eos.push_back(*id);
  if (f.find("tokenizer.ggml.tokens")) {
    const auto& tokens = f.string_array("tokenizer.ggml.tokens");
    for (size_t id = 0; id < tokens.size(); ++id)
      for (const char* t : kEndOfTurnTokens)
        if (tokens[id] == t && std::find(eos.begin(), eos.end(), static_cast<int64_t>(id)) == eos.end())
          eos.push_back(static_cast<int64_t>(id));
  }
  if (!eos.empty()) c["eos_token_id"] = eos;

  if (arch == "gemma3") {
    // No window key (or 0): every layer attends globally, as llama.cpp reads it.
    c["sliding_window"] = f.find_int(key("attention.sliding_window")).value_or(0);
    // llama.cpp's gemma3 scales attention by 1/sqrt(head_dim), except the 27B (62 layers), whose
    // query_pre_attn_scalar is hidden / heads; the file does not say.
    const int64_t layers = c["num_hidden_layers"];
    c["query_pre_attn_scalar"] = layers == 62 ? c["hidden_size"].get<int64_t>() / heads : head_dim;
    c["rope_local_base_freq"] = f32_decimal(f.find_float(key("rope.freq_base_swa")).value_or(10000.0));
    if (const GgufValue* p = f.find(key("attention.sliding_window_pattern"))) {
      if (p->type == GgufType::Array) {  // one bool per layer: true where the layer slides
        const auto pattern = f.int_array(key("attention.sliding_window_pattern"));
        json types = json::array();
        for (int64_t v : pattern) types.push_back(v ? "sliding_attention" : "full_attention");
        c["layer_types"] = types;
      } else {
        c["sliding_window_pattern"] = f.get_int(key("attention.sliding_window_pattern"));
      }
    } else {
      c["sliding_window_pattern"] = 6;  // llama.cpp's gemma3 default: every sixth layer is global
    }
    if (auto cap = f.find_float(key("final_logit_softcapping"))) c["final_logit_softcapping"] = f32_decimal(*cap);
    if (auto cap = f.find_float(key("attn_logit_softcapping"))) c["attn_logit_softcapping"] = f32_decimal(*cap);
  }
  return c;
}

Spec gguf_spec(const GgufFile& f) {
  Spec s = parse_spec(gguf_config(f), f.path() + " (GGUF metadata as config.json keys)");
  if (s.family == Family::Gemma3) s.norm_weight_offset = 0.0;  // the converter stored 1 + w
  // The dtypes the matrices keep when loaded natively, by op-graph name (what the tuner tunes): each
  // projection's most common type over the layers (a Q4_K_M file mixes types from layer to layer).
  auto layer_type = [&](const char* suffix) -> std::optional<DType> {
    std::map<DType, int64_t> n;
    for (int64_t l = 0; l < s.num_layers; ++l)
      if (const GgufTensor* t = f.find_tensor("blk." + std::to_string(l) + "." + suffix))
        ++n[native_dtype(*t).value_or(DType::BF16)];  // what the native load holds
    if (n.empty()) return std::nullopt;
    return std::max_element(n.begin(), n.end(), [](const auto& a, const auto& b) { return a.second < b.second; })->first;
  };
  const struct { const char* op; const char* gguf; } kProjections[] = {
      {"layers.*.self_attn.q_proj", "attn_q.weight"},   {"layers.*.self_attn.k_proj", "attn_k.weight"},
      {"layers.*.self_attn.v_proj", "attn_v.weight"},   {"layers.*.self_attn.o_proj", "attn_output.weight"},
      {"layers.*.mlp.gate_proj", "ffn_gate.weight"},    {"layers.*.mlp.up_proj", "ffn_up.weight"},
      {"layers.*.mlp.down_proj", "ffn_down.weight"},    {"layers.*.mlp.gate_up_silu", "ffn_gate.weight"}};
  for (const auto& p : kProjections)
    if (auto d = layer_type(p.gguf); d && *d != s.dtype) s.weight_dtypes[p.op] = *d;
  const GgufTensor* head = f.find_tensor("output.weight");
  if (!head) head = f.find_tensor("token_embd.weight");
  if (head)
    if (const DType d = native_dtype(*head).value_or(DType::BF16); d != s.dtype)
      s.weight_dtypes["lm_head"] = s.weight_dtypes["lm_head_argmax"] = d;
  return s;
}

std::unique_ptr<Model> load_gguf_model(const std::string& path, GgufWeights weights) {
  const auto file = std::make_shared<const GgufFile>(path);
  const GgufFile& f = *file;
  auto m = std::make_unique<Model>();
  m->dir = path;
  m->spec = gguf_spec(f);
  const Spec& s = m->spec;
  const bool llama_permuted = f.get_string("general.architecture") == "llama";

  std::map<std::string, const TensorRef*> found;
  for (const auto& e : expected_tensors(s)) {
    const std::string gname = gguf_tensor_name(e.name, s.family);
    TensorRef want;
    want.shape = e.shape;
    const GgufTensor* t = gname.empty() ? nullptr : f.find_tensor(gname);
    if (!t)
      fail(path, ": missing tensor \"", gname.empty() ? e.name : gname, "\" (", e.name, ", expected shape ",
           want.shape_str(), ")");
    if (t->shape() != e.shape)
      fail(path, ": tensor \"", gname, "\" has shape ", t->shape_str(), " (GGUF dims reversed), expected ",
           want.shape_str(), " for ", e.name);
    auto owned = std::make_unique<OwnedTensor>();
    TensorRef& r = owned->ref;
    r.name = gname;
    r.file = path;
    r.shape = e.shape;
    const bool vector = e.role == TensorRole::Norm || e.role == TensorRole::Bias;
    const bool permuted = llama_permuted && (gname.ends_with("attn_q.weight") || gname.ends_with("attn_k.weight"));
    const auto native = vector || weights != GgufWeights::Native ? std::nullopt : native_dtype(*t);
    if (native) {
      // The file's bytes as they are: mapped, not copied, unless the rows must be put back in order.
      r.dtype = *native;
      r.nbytes = static_cast<size_t>(t->nbytes);
      r.data = t->data;
      if (*quant::packed_bytes(*t->format, t->dims[0]) * (t->numel / t->dims[0]) != t->nbytes)
        fail(path, ": tensor \"", gname, "\" holds ", t->nbytes, " bytes, expected whole ", t->format->name,
             " rows of ", t->dims[0], " elements");
      if (permuted) {
        owned->bytes.assign(t->data, t->data + t->nbytes);
        const int64_t heads = gname.ends_with("attn_q.weight") ? s.num_heads : s.num_kv_heads;
        unpermute_rows(owned->bytes, heads, e.shape[0], static_cast<size_t>(quant::row_bytes(r.dtype, e.shape[1])));
        r.data = owned->bytes.data();
      }
    } else {
      r.dtype = vector ? DType::F32 : DType::BF16;
      owned->bytes.resize(static_cast<size_t>(t->numel) * dtype_size(r.dtype));
      dequantize_rows(*t, r.dtype, owned->bytes.data());
      if (permuted) {
        const int64_t heads = gname.ends_with("attn_q.weight") ? s.num_heads : s.num_kv_heads;
        unpermute_rows(owned->bytes, heads, e.shape[0], static_cast<size_t>(e.shape[1]) * dtype_size(r.dtype));
      }
      r.data = owned->bytes.data();
      r.nbytes = owned->bytes.size();
    }
    found[e.name] = &r;
    m->owned.push_back(std::move(owned));
  }

  bind_weights(*m, found);
  if (weights == GgufWeights::Native) m->mapped = file;  // native tensors point into the mapping
  return m;
}

}  // namespace synaptix::model
