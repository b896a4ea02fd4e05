#pragma once
// model::Spec: everything the runtime needs from config.json, normalised across families and across the
// transformers-4 (`rope_theta`, `rope_scaling`) and transformers-5 (`rope_parameters`) config forms.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "synaptix/core/dtype.h"

namespace synaptix::model {

enum class Family { Llama, Mistral, Qwen2, Qwen3, Mixtral, Qwen3Moe, Gemma3 };
const char* family_name(Family f);

// The gate activation of the gated MLP: silu (SwiGLU) or the tanh approximation of GELU (GeGLU, gemma3's
// "gelu_pytorch_tanh").
enum class Activation { Silu, GeluTanh };

struct RopeScaling {
  std::string type = "default";  // default | linear | dynamic | yarn | llama3
  double factor = 1.0;
  // llama3
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
  // yarn
  double beta_fast = 32.0, beta_slow = 1.0;
  std::optional<double> attention_factor;
  std::optional<double> mscale, mscale_all_dim;
};

struct Spec {
  std::string model_type;  // as written in config.json
  Family family = Family::Llama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double partial_rotary_factor = 1.0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // bias on q/k/v (qwen2 always)
  bool qk_norm = false;         // per-head RMSNorm on q and k (qwen3)
  int64_t sliding_window = 0;   // 0: full attention
  // Per layer: true where the layer uses the sliding window (from `layer_types`, or `use_sliding_window` and
  // `max_window_layers` for qwen2-style configs, or every layer for mistral).
  std::vector<bool> layer_sliding;
  // Sparse MoE (mixtral, qwen3_moe)
  int64_t num_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  bool norm_topk_prob = true;
  std::vector<int64_t> mlp_only_layers;  // qwen3_moe: layers that use a dense MLP
  int64_t decoder_sparse_step = 1;
  // Gemma 3. Plain numbers, so that a GGUF loader can fill them from its own keys.
  Activation mlp_activation = Activation::Silu;
  double norm_weight_offset = 0.0;     // every RMSNorm scales by (offset + w): 1 for HF Gemma's (1 + w); 0 for
                                       // GGUF files, whose converter already added the 1
  bool post_norms = false;             // RMSNorm on the attention and MLP outputs before each residual add
  double embedding_scale = 1.0;        // embeddings times this (gemma3: sqrt(hidden) rounded to `dtype`)
  double query_pre_attn_scalar = 0.0;  // attention scale is 1/sqrt(this); 0: head_dim
  double attn_logit_softcap = 0.0;     // 0: off; else scores = cap * tanh(scores / cap)
  double final_logit_softcap = 0.0;    // 0: off; else logits = cap * tanh(logits / cap)
  // Sliding-window layers' own RoPE base and scaling (gemma3: rope_local_base_freq, or
  // rope_parameters.sliding_attention); 0: they rotate as the others.
  double sliding_rope_theta = 0.0;
  RopeScaling sliding_rope_scaling;
  DType dtype = DType::BF16;
  // Matrices stored in another dtype than `dtype`, by op-graph name ("layers.*.self_attn.q_proj", "lm_head"):
  // a GGUF file's block types (gguf_spec: each projection's most common type across the layers).
  std::map<std::string, DType> weight_dtypes;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> bos_token_id;

  bool is_moe() const { return num_experts > 0; }
  int64_t window_for_layer(int64_t layer) const {
    return (sliding_window > 0 && layer < static_cast<int64_t>(layer_sliding.size()) && layer_sliding[layer])
               ? sliding_window : 0;
  }
  bool layer_is_moe(int64_t layer) const;
  bool layer_uses_sliding_rope(int64_t layer) const {
    return sliding_rope_theta > 0 && layer < static_cast<int64_t>(layer_sliding.size()) && layer_sliding[layer];
  }
  double attention_scale() const;
  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }
  // Parameter count implied by the shapes (embedding counted once when tied).
  int64_t parameter_count() const;
};

// Parses a config.json document; `where` names the file in errors. Throws synaptix::Error naming the key and
// what was expected for a missing or mistyped key, and for an unknown model_type.
Spec parse_spec(const nlohmann::json& config, const std::string& where);
Spec load_spec(const std::string& config_path);
nlohmann::json spec_to_json(const Spec& s);

}  // namespace synaptix::model
