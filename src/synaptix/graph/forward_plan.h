#pragma once
// The forward plan: what one forward step of a model computes, decided once per model family and read by
// every consumer (the CPU and CUDA executors walk it; the op graph, hence the tuner's op list and the
// benchmark's shapes, is derived from it). A model-level part (embedding scale, final norm and soft-cap, tied
// head) and one step per layer (attention, MLP, their norms). Built from a model::Spec by one short builder per
// family (graph/families/*.cpp, in the manner of llama.cpp's src/models/): a family's builder says which of the
// spec's features its forward has, and refuses a spec that asks for one it has not.
#include <cstdint>
#include <tuple>
#include <vector>

#include "synaptix/model/spec.h"

namespace synaptix::graph {

// The rotary table a layer rotates q and k by: the model's, or the sliding-window layers' own (gemma3).
enum class RopeTableId { Global = 0, Sliding = 1 };

struct AttentionStep {
  bool qkv_bias = false;  // bias on the q, k and v projections (qwen2)
  bool qk_norm = false;   // per-head RMSNorm on q and k before RoPE (qwen3, gemma3)
  RopeTableId rope = RopeTableId::Global;
  int64_t window = 0;           // sliding window in positions; 0: full attention
  double scale = 1.0;           // softmax scale of q.k (1/sqrt(head_dim), or gemma3's 1/sqrt(query_pre_attn_scalar))
  double logit_softcap = 0.0;   // 0: off; else scores = cap * tanh(scores / cap)
};

enum class MlpKind { Dense, Moe };

struct MlpStep {
  MlpKind kind = MlpKind::Dense;
  model::Activation activation = model::Activation::Silu;  // the gate's (dense MLP and every expert)
  int64_t inter = 0;     // gate/up rows: the dense MLP's, or each expert's
  int64_t experts = 0;   // Moe: routed experts, of which top_k per token
  int64_t top_k = 0;
  bool norm_topk_prob = true;
};

// One decoder layer: x += post_attn_norm?(attention(norm(x))); x += post_mlp_norm?(mlp(norm(x))).
struct LayerStep {
  AttentionStep attention;
  bool post_attention_norm = false;  // RMSNorm on the attention output before the residual add (gemma3)
  MlpStep mlp;
  bool post_mlp_norm = false;        // RMSNorm on the MLP output before the residual add (gemma3)
};

struct ForwardPlan {
  model::Family family = model::Family::Llama;
  int64_t vocab = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0;
  double rms_norm_eps = 1e-6;
  // Every RMSNorm scales by (offset + w): gemma3's (1 + w), folded into the weights where they are loaded.
  double norm_weight_offset = 0.0;
  double embedding_scale = 1.0;       // embeddings times this (gemma3: sqrt(hidden))
  double final_logit_softcap = 0.0;   // 0: off
  bool tied_head = false;             // the LM head is the embedding table
  std::vector<LayerStep> layers;

  int64_t q_dim() const { return heads * head_dim; }
  int64_t kv_dim() const { return kv_heads * head_dim; }
  // Whether some layer uses the sliding-window layers' own rotary table.
  bool uses_sliding_rope() const;
  // Whether some layer norms its attention or MLP output before the residual add.
  bool has_post_norms() const;
};

// The plan of a spec's family. Throws synaptix::Error for a family with no builder, and for a spec that sets a
// feature its family's forward does not have (naming the family and the feature).
ForwardPlan build_forward_plan(const model::Spec& s);

// The distinct linear products (m, n, k) of one step over `tokens` rows of which `logit_rows` reach the LM
// head: each layer's attention projections, its dense MLP's and the head. With `fused_projections` the q|k|v
// projections of a layer are one product and so are gate|up (how the CUDA executor holds them); else each is
// its own. Routed experts and routers run in their own kernels and are not listed.
std::vector<std::tuple<int64_t, int64_t, int64_t>> step_linear_shapes(const ForwardPlan& p, int64_t tokens,
                                                                       int64_t logit_rows, bool fused_projections);

}  // namespace synaptix::graph
