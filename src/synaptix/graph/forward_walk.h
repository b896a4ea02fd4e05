#pragma once
// One forward step as the ordered ops every executor runs, walked from the forward plan (forward_plan.h):
// the embedding (and its scale), then per layer the attention's norm, q/k/v projections, q/k norm, RoPE and
// KV write, attention, output projection, post-attention norm, the MLP's norm, its products (dense: gate/up,
// the gated activation, down; routed: the router and the experts) and post-MLP norm; then the final norm and
// the LM head over the rows whose logits are wanted. Each op carries its layer's plan step and the shapes of
// its linear products (q|k|v and gate|up as one product each where the executor holds them fused, as the
// CUDA executor does), so the linear shapes a step runs (step_linear_shapes, hence the CUDA tuner's op list
// and the benchmark's shapes) are the walker's. An executor walks the step through StepOpHandler, its small
// per-target op dispatch; where its kernels fuse neighbouring ops (a norm in a GEMV prologue) it handles the
// pair at the first and skips the second.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <tuple>
#include <vector>

#include "synaptix/graph/forward_plan.h"

namespace synaptix::graph {

enum class StepOpKind {
  Embed,              // model-level: token rows of the embedding table
  ScaleEmbeddings,    // model-level: times plan.embedding_scale (gemma3)
  AttentionNorm,      // RMSNorm of the residual (the previous layer's output added first unless layer 0)
  QkvProjection,      // products: q, k, v (or q|k|v)
  QkNorm,             // per-head RMSNorm of q and k (qwen3, gemma3)
  RopeKvWrite,        // RoPE on q and k, k and v into the KV cache
  Attention,          // over the paged KV cache (window, scale, soft-cap from the layer's step)
  OutProjection,      // products: o
  PostAttentionNorm,  // RMSNorm of the attention output before the residual add (gemma3)
  MlpNorm,            // RMSNorm of the residual after the attention's output is added
  GateUpProjection,   // dense MLP; products: gate, up (or gate|up)
  GatedActivation,    // act(gate) * up, act SiLU or GELU-tanh
  DownProjection,     // products: down
  MoeRouter,          // routed MLP; products: the router
  MoeExperts,         // routed MLP: each expert's gate/up/down over its tokens (products not listed)
  PostMlpNorm,        // RMSNorm of the MLP output before the residual add (gemma3)
  FinalNorm,          // model-level: over the logit rows
  LmHead,             // model-level; products: the head over the logit rows
};

const char* step_op_name(StepOpKind k);

using ProductShape = std::tuple<int64_t, int64_t, int64_t>;  // (m, n, k): y[m, n] = x[m, k] W[n, k]^T

struct StepOp {
  StepOpKind kind = StepOpKind::Embed;
  int64_t layer = -1;                  // -1: a model-level op
  const LayerStep* step = nullptr;     // the layer's plan step (null for model-level ops)
  std::vector<ProductShape> products;  // the linear products this op runs
  int64_t rows = 0;                    // rows it works on: the step's tokens, or the logit rows
};

// Receives a step's ops in order (an executor's per-target dispatch). `next` holds the ops after `op` in this
// step, in order: a handler whose kernel covers `op` and the ops right after it reads their shapes there (and
// checks that they are the ops it fuses), then skips them when they come.
class StepOpHandler {
 public:
  virtual ~StepOpHandler() = default;
  virtual void on(const StepOp& op, std::span<const StepOp> next) = 0;
};

// Whether `next` starts with ops of these kinds, in this order, all of `layer`.
bool next_ops_are(std::span<const StepOp> next, int64_t layer, std::initializer_list<StepOpKind> kinds);

// The ops of one step over `tokens` rows of which `logit_rows` reach the LM head (0: no head). With
// `fused_projections` the q|k|v projections of a layer are one product and so are gate|up.
std::vector<StepOp> walk_forward(const ForwardPlan& p, int64_t tokens, int64_t logit_rows, bool fused_projections);
// The same ops handed to `h` one by one.
void walk_forward(const ForwardPlan& p, int64_t tokens, int64_t logit_rows, bool fused_projections, StepOpHandler& h);

}  // namespace synaptix::graph
