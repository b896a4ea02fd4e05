#include "synaptix/engine/cuda_step_launches.h"

#include <initializer_list>
#include <span>
#include <sstream>
#include <tuple>

#include "synaptix/core/error.h"
#include "synaptix/graph/forward_walk.h"

namespace synaptix::engine::cuda {
namespace {

using graph::StepOp;
using K = graph::StepOpKind;

// Sums-of-squares slots of the fused decode path: layer l's attention norm reads slot 2l, its MLP norm 2l+1,
// the final norm 2 * layers; the product that last wrote the residual before each norm filled its slot (the
// embedding slot 0).
int64_t attention_norm_slot(int64_t l) { return 2 * l; }
int64_t mlp_norm_slot(int64_t l) { return 2 * l + 1; }

bool is_moe(const StepOp& op) { return op.step && op.step->mlp.kind == graph::MlpKind::Moe; }

GemvEpilogue gated_epilogue(const StepOp& op) {
  return op.step->mlp.activation == model::Activation::GeluTanh ? GemvEpilogue::GeGlu : GemvEpilogue::SwiGlu;
}

// The walker's op dispatch of the CUDA executor: one small function per op, each appending the launches that
// op needs; a fused kernel is appended at the first op it covers and the ops it covers are skipped.
class StepLaunchPlanner final : public graph::StepOpHandler {
 public:
  StepLaunchPlanner(const graph::ForwardPlan& p, const StepKernelChoices& c) : p_(p), c_(c) {}

  std::vector<KernelLaunch> launches;

  void on(const StepOp& op, std::span<const StepOp> next) override {
    if (skip_ > 0) {
      --skip_;
      return;
    }
    switch (op.kind) {
      case K::Embed: embed(op); break;
      case K::ScaleEmbeddings: scale_embeddings(op); break;
      case K::AttentionNorm: attention_norm(op, next); break;
      case K::QkvProjection: qkv_projection(op); break;
      case K::QkNorm: rope_kv_write(op, next); break;  // in the RoPE kernel
      case K::RopeKvWrite: rope_kv_write(op, next); break;
      case K::Attention: attention(op); break;
      case K::OutProjection: out_projection(op); break;
      case K::PostAttentionNorm: post_norm(op, Weight::PostAttentionNorm); break;
      case K::MlpNorm: mlp_norm(op, next); break;
      case K::GateUpProjection: gate_up_projection(op, next); break;
      case K::GatedActivation: gated_activation(op); break;
      case K::DownProjection: down_projection(op); break;
      case K::MoeRouter: moe_router(op, next); break;
      case K::MoeExperts: fail("CUDA step plan: internal: layer ", op.layer, "'s experts without their router");
      case K::PostMlpNorm: post_norm(op, Weight::PostMlpNorm); break;
      case K::FinalNorm: final_norm(op, next); break;
      case K::LmHead: lm_head(op); break;
    }
  }

 private:
  // The ops right after `op` that its kernel covers: checked to be these, then skipped.
  void cover(const StepOp& op, std::span<const StepOp> next, std::initializer_list<K> kinds) {
    if (!graph::next_ops_are(next, op.layer, kinds))
      fail("CUDA step plan: internal: ", graph::step_op_name(op.kind), " of layer ", op.layer,
           " is not followed by the ops its fused kernel covers");
    skip_ = static_cast<int>(kinds.size());
  }

  KernelLaunch launch(LaunchKind kind, const StepOp& op) const {
    KernelLaunch l;
    l.kind = kind;
    l.layer = op.layer;
    l.m = op.rows;
    return l;
  }

  // A kernel over m rows of the hidden width.
  KernelLaunch rows_launch(LaunchKind kind, const StepOp& op) const {
    KernelLaunch l = launch(kind, op);
    l.n = p_.hidden;
    return l;
  }

  // The op's one product (the walker fuses q|k|v and gate|up for this executor) from `in` into `out`.
  KernelLaunch product(LaunchKind kind, const StepOp& op, Weight w, Buffer in, Buffer out, bool acc) const {
    if (op.products.size() != 1)
      fail("CUDA step plan: internal: ", graph::step_op_name(op.kind), " has ", op.products.size(),
           " products; the CUDA executor runs one (fused projections)");
    KernelLaunch l;
    l.kind = kind;
    l.layer = op.layer;
    std::tie(l.m, l.n, l.k) = op.products[0];
    l.weight = w;
    l.in = in;
    l.out = out;
    l.accumulate = acc;
    l.tensor_cores = kind == LaunchKind::Linear && c_.tensor_cores;
    return l;
  }

  // The residual normed into a quantized product (with a gated epilogue: its activation into out).
  KernelLaunch norm_product(const StepOp& product_op, Weight norm, Weight w, Buffer out, GemvEpilogue epilogue) const {
    KernelLaunch l = product(LaunchKind::NormProduct, product_op, w, Buffer::X, out, false);
    l.prologue = GemvPrologue::RmsNorm;
    l.norm = norm;
    l.epilogue = epilogue;
    return l;
  }

  KernelLaunch rmsnorm(const StepOp& op, Weight norm, Buffer out, bool bf16) const {
    KernelLaunch l = rows_launch(LaunchKind::RmsNorm, op);
    l.norm = norm;
    l.in = Buffer::X;
    l.out = out;
    l.bf16_out = bf16;
    return l;
  }

  // A sublayer's output: accumulated into the residual, or (with a post-norm after it) written to xn.
  static bool has_post_norm(const StepOp& op) {
    return op.kind == K::OutProjection ? op.step->post_attention_norm : op.step->post_mlp_norm;
  }

  void embed(const StepOp& op) {
    if (!c_.first_step) return;  // embedded by the previous step's ArgmaxEmbedding
    KernelLaunch l = rows_launch(LaunchKind::Embedding, op);
    l.out = Buffer::X;
    if (c_.norm_in_gemv()) l.ss_out = 0;
    launches.push_back(l);
  }

  void scale_embeddings(const StepOp& op) {
    if (!c_.first_step) return;
    KernelLaunch l = rows_launch(LaunchKind::ScaleEmbeddings, op);
    l.in = l.out = Buffer::X;
    launches.push_back(l);
  }

  const LayerWeightKinds& weights(const StepOp& op) const { return c_.layer_weights[static_cast<size_t>(op.layer)]; }

  void attention_norm(const StepOp& op, std::span<const StepOp> next) {
    if (c_.norm_in_quant_product && !weights(op).bf16_qkv) {
      cover(op, next, {K::QkvProjection});
      launches.push_back(norm_product(next[0], Weight::AttentionNorm, Weight::Qkv, Buffer::Qkv, GemvEpilogue::Plain));
      after_qkv(op);
      return;
    }
    if (!c_.norm_in_gemv()) {
      launches.push_back(rmsnorm(op, Weight::AttentionNorm, c_.bf16_inputs ? Buffer::ActBf16 : Buffer::Xn, c_.bf16_inputs));
      return;
    }
    cover(op, next, {K::QkvProjection});
    KernelLaunch l = product(LaunchKind::Gemv, next[0], Weight::Qkv, Buffer::X, Buffer::Qkv, false);
    l.prologue = GemvPrologue::RmsNorm;
    l.norm = Weight::AttentionNorm;
    l.ss_in = attention_norm_slot(op.layer);
    launches.push_back(l);
    after_qkv(op);
  }

  void qkv_projection(const StepOp& op) {
    if (c_.bf16_inputs) launches.push_back(product(LaunchKind::MatmulBf16, op, Weight::Qkv, Buffer::ActBf16, Buffer::Qkv, false));
    else launches.push_back(product(LaunchKind::Linear, op, Weight::Qkv, Buffer::Xn, Buffer::Qkv, false));
    after_qkv(op);
  }

  // The o weights start moving into L2 while RoPE and attention run.
  void after_qkv(const StepOp& op) {
    if (!c_.prefetch_o) return;
    KernelLaunch l = launch(LaunchKind::PrefetchWeights, op);
    l.weight = Weight::O;
    launches.push_back(l);
  }

  // From the q/k norm (which the RoPE kernel applies) or from the RoPE and KV write itself; the decode
  // attention kernel (or the benchmark's ablation) covers the attention too.
  void rope_kv_write(const StepOp& op, std::span<const StepOp> next) {
    const bool with_attention = c_.ablate_attention || c_.fused_decode_attention;
    if (op.kind == K::QkNorm && with_attention) cover(op, next, {K::RopeKvWrite, K::Attention});
    else if (op.kind == K::QkNorm) cover(op, next, {K::RopeKvWrite});
    else if (with_attention) cover(op, next, {K::Attention});
    if (c_.ablate_attention) return;
    KernelLaunch l = launch(c_.fused_decode_attention ? LaunchKind::DecodeAttentionRope : LaunchKind::RopeKvWrite, op);
    l.in = Buffer::Qkv;
    l.out = c_.fused_decode_attention ? Buffer::Attn : Buffer::Qkv;
    launches.push_back(l);
  }

  void attention(const StepOp& op) {
    KernelLaunch l = launch(LaunchKind::Attention, op);
    l.in = Buffer::Qkv;
    l.out = Buffer::Attn;
    launches.push_back(l);
  }

  void out_projection(const StepOp& op) {
    if (c_.norm_in_gemv()) {  // the MLP norm's sums of squares come from this product
      KernelLaunch l = product(LaunchKind::Gemv, op, Weight::O, Buffer::Attn, Buffer::X, true);
      l.epilogue = GemvEpilogue::AccumulateSumSq;
      l.ss_out = mlp_norm_slot(op.layer);
      launches.push_back(l);
      return;
    }
    const bool post = has_post_norm(op);
    launches.push_back(product(LaunchKind::Linear, op, Weight::O, Buffer::Attn, post ? Buffer::Xn : Buffer::X, !post));
  }

  void post_norm(const StepOp& op, Weight norm) {
    KernelLaunch l = rows_launch(LaunchKind::RmsNormAdd, op);
    l.norm = norm;
    l.in = Buffer::Xn;
    l.out = Buffer::X;
    launches.push_back(l);
  }

  void mlp_norm(const StepOp& op, std::span<const StepOp> next) {
    if (is_moe(op)) {
      if (!c_.moe_norm_fused) {
        // MoE layers normalise to f32 (routing decisions are sensitive), on every path.
        launches.push_back(rmsnorm(op, Weight::MlpNorm, Buffer::Xn, false));
        return;
      }
      cover(op, next, {K::MoeRouter, K::MoeExperts});
      KernelLaunch l = moe(next[0]);
      l.in = Buffer::X;
      l.prologue = GemvPrologue::RmsNorm;
      l.norm = Weight::MlpNorm;
      l.ss_in = mlp_norm_slot(op.layer);
      l.ss_out = attention_norm_slot(op.layer + 1);
      launches.push_back(l);
      return;
    }
    if (c_.norm_in_quant_product && !weights(op).bf16_gate_up) {
      cover(op, next, {K::GateUpProjection, K::GatedActivation});
      launches.push_back(norm_product(next[0], Weight::MlpNorm, Weight::GateUp, Buffer::Act, gated_epilogue(op)));
      return;
    }
    if (!c_.dense_fused) {
      launches.push_back(rmsnorm(op, Weight::MlpNorm, c_.bf16_inputs ? Buffer::ActBf16 : Buffer::Xn, c_.bf16_inputs));
      return;
    }
    cover(op, next, {K::GateUpProjection, K::GatedActivation});
    KernelLaunch l = product(LaunchKind::Gemv, next[0], Weight::GateUp, Buffer::X, Buffer::Act, false);
    l.prologue = GemvPrologue::RmsNorm;
    l.norm = Weight::MlpNorm;
    l.ss_in = mlp_norm_slot(op.layer);
    l.epilogue = gated_epilogue(op);
    launches.push_back(l);
  }

  void gate_up_projection(const StepOp& op, std::span<const StepOp> next) {
    if (c_.bf16_inputs) {
      launches.push_back(product(LaunchKind::MatmulBf16, op, Weight::GateUp, Buffer::ActBf16, Buffer::GateUp, false));
      return;
    }
    if (c_.gated_in_gemv && weights(op).bf16_gate_up) {
      // The norm kernel stayed separate; the activation still rides in the GEMV's epilogue, which costs it
      // nothing (the quantized GEMV has none).
      cover(op, next, {K::GatedActivation});
      KernelLaunch l = product(LaunchKind::Gemv, op, Weight::GateUp, Buffer::Xn, Buffer::Act, false);
      l.epilogue = gated_epilogue(op);
      launches.push_back(l);
      return;
    }
    launches.push_back(product(LaunchKind::Linear, op, Weight::GateUp, Buffer::Xn, Buffer::GateUp, false));
  }

  void gated_activation(const StepOp& op) {
    KernelLaunch l = launch(LaunchKind::GatedActivation, op);
    l.n = op.step->mlp.inter;
    l.in = Buffer::GateUp;
    l.out = c_.bf16_inputs ? Buffer::ActBf16 : Buffer::Act;
    l.bf16_out = c_.bf16_inputs;
    l.epilogue = gated_epilogue(op);
    launches.push_back(l);
  }

  void down_projection(const StepOp& op) {
    if (c_.dense_fused) {  // the next layer's attention norm reads these sums of squares
      KernelLaunch l = product(LaunchKind::Gemv, op, Weight::Down, Buffer::Act, Buffer::X, true);
      l.epilogue = GemvEpilogue::AccumulateSumSq;
      l.ss_out = attention_norm_slot(op.layer + 1);
      launches.push_back(l);
      return;
    }
    const bool post = has_post_norm(op);
    const Buffer out = post ? Buffer::Xn : Buffer::X;
    if (c_.bf16_inputs) launches.push_back(product(LaunchKind::MatmulBf16, op, Weight::Down, Buffer::ActBf16, out, !post));
    else launches.push_back(product(LaunchKind::Linear, op, Weight::Down, Buffer::Act, out, !post));
  }

  // The router's product (shape and layer) as one MoE launch adding the experts' outputs into x.
  KernelLaunch moe(const StepOp& router) const {
    KernelLaunch l = product(LaunchKind::Moe, router, Weight::None, Buffer::Xn, Buffer::X, true);
    return l;
  }

  void moe_router(const StepOp& op, std::span<const StepOp> next) {
    cover(op, next, {K::MoeExperts});
    launches.push_back(moe(op));
  }

  void final_norm(const StepOp& op, std::span<const StepOp> next) {
    if (!(c_.norm_in_gemv() && c_.decode_only)) {
      // Only the logit rows (listed in the step's metadata) are normed.
      KernelLaunch l = rmsnorm(op, Weight::FinalNorm, Buffer::Xn, false);
      l.logit_rows = true;
      launches.push_back(l);
      return;
    }
    // Decode-only: logit row i is token i, so the norm runs in the head GEMV's prologue; greedy: the argmax
    // in its epilogue, finished by one small kernel that also embeds the next step's tokens.
    cover(op, next, {K::LmHead});
    KernelLaunch l = product(LaunchKind::Gemv, next[0], Weight::Head, Buffer::X, Buffer::Logits, false);
    l.prologue = GemvPrologue::RmsNorm;
    l.norm = Weight::FinalNorm;
    l.ss_in = 2 * static_cast<int64_t>(p_.layers.size());
    l.epilogue = c_.greedy ? GemvEpilogue::ArgMax : GemvEpilogue::Plain;
    launches.push_back(l);
    if (!c_.greedy) return;
    KernelLaunch a = rows_launch(LaunchKind::ArgmaxEmbedding, op);
    a.in = Buffer::Logits;
    a.out = Buffer::X;
    a.embeds_next = !c_.last_step;
    launches.push_back(a);
  }

  void lm_head(const StepOp& op) {
    KernelLaunch l = product(LaunchKind::Linear, op, Weight::Head, Buffer::Xn, Buffer::Logits, false);
    l.tensor_cores = c_.tensor_core_head;
    launches.push_back(l);
    if (!c_.greedy) return;
    KernelLaunch a = launch(LaunchKind::ArgmaxRows, op);
    a.n = p_.vocab;
    a.in = Buffer::Logits;
    launches.push_back(a);
  }

  const graph::ForwardPlan& p_;
  const StepKernelChoices& c_;
  int skip_ = 0;  // ops still to skip: covered by the last fused kernel
};

// The fusions read sums of squares that only the plain pre-norm residual stream keeps, and each covers ops
// the plan must have.
void check_choices(const graph::ForwardPlan& p, const StepKernelChoices& c) {
  if (c.layer_weights.size() != p.layers.size())
    fail("CUDA step plan: internal: weight kinds of ", c.layer_weights.size(), " layers for ", p.layers.size(), " layers");
  if (c.dense_fused && c.moe_norm_fused) fail("CUDA step plan: internal: dense_fused and moe_norm_fused together");
  for (const graph::LayerStep& L : p.layers)
    if ((c.dense_fused && L.mlp.kind != graph::MlpKind::Dense) || (c.moe_norm_fused && L.mlp.kind != graph::MlpKind::Moe))
      fail("CUDA step plan: internal: ", c.dense_fused ? "dense_fused" : "moe_norm_fused", " for a model with ",
           c.dense_fused ? "routed" : "dense", " MLP layers");
  if (c.norm_in_gemv() && (p.has_post_norms() || p.embedding_scale != 1.0))
    fail("CUDA step plan: internal: norms in GEMV prologues for a forward with post-norms or scaled embeddings "
         "(the residual's sums of squares would be wrong)");
  if ((c.norm_in_gemv() || c.norm_in_quant_product) && (c.tensor_cores || c.bf16_inputs))
    fail("CUDA step plan: internal: norms in product prologues on a tensor-core step");
  if (c.norm_in_gemv() && c.norm_in_quant_product)
    fail("CUDA step plan: internal: norms in both the bf16 GEMV's and the quantized product's prologues");
}

const char* kind_name(LaunchKind k) {
  switch (k) {
    case LaunchKind::Embedding: return "embedding";
    case LaunchKind::ScaleEmbeddings: return "scale_embeddings";
    case LaunchKind::RmsNorm: return "rmsnorm";
    case LaunchKind::RmsNormAdd: return "rmsnorm_add";
    case LaunchKind::Gemv: return "gemv";
    case LaunchKind::Linear: return "linear";
    case LaunchKind::MatmulBf16: return "matmul_bf16";
    case LaunchKind::NormProduct: return "norm_product";
    case LaunchKind::PrefetchWeights: return "prefetch";
    case LaunchKind::RopeKvWrite: return "rope_kv_write";
    case LaunchKind::DecodeAttentionRope: return "decode_attention_rope";
    case LaunchKind::Attention: return "attention";
    case LaunchKind::GatedActivation: return "gated_activation";
    case LaunchKind::Moe: return "moe";
    case LaunchKind::ArgmaxRows: return "argmax_rows";
    case LaunchKind::ArgmaxEmbedding: return "argmax_embedding";
  }
  return "?";
}

const char* weight_name(Weight w) {
  switch (w) {
    case Weight::None: return "-";
    case Weight::AttentionNorm: return "attn_norm";
    case Weight::MlpNorm: return "mlp_norm";
    case Weight::PostAttentionNorm: return "post_attn_norm";
    case Weight::PostMlpNorm: return "post_mlp_norm";
    case Weight::FinalNorm: return "final_norm";
    case Weight::Qkv: return "qkv";
    case Weight::O: return "o";
    case Weight::GateUp: return "gate_up";
    case Weight::Down: return "down";
    case Weight::Head: return "head";
  }
  return "?";
}

const char* buffer_name(Buffer b) {
  switch (b) {
    case Buffer::None: return "-";
    case Buffer::X: return "x";
    case Buffer::Xn: return "xn";
    case Buffer::Qkv: return "qkv";
    case Buffer::Attn: return "attn";
    case Buffer::GateUp: return "gu";
    case Buffer::Act: return "act";
    case Buffer::ActBf16: return "act_bf16";
    case Buffer::Logits: return "logits";
  }
  return "?";
}

const char* epilogue_name(GemvEpilogue e) {
  switch (e) {
    case GemvEpilogue::Plain: return "plain";
    case GemvEpilogue::AccumulateSumSq: return "sumsq";
    case GemvEpilogue::SwiGlu: return "swiglu";
    case GemvEpilogue::GeGlu: return "geglu";
    case GemvEpilogue::ArgMax: return "argmax";
  }
  return "?";
}

}  // namespace

std::vector<KernelLaunch> plan_step_launches(const graph::ForwardPlan& plan, const StepKernelChoices& c) {
  check_choices(plan, c);
  StepLaunchPlanner planner(plan, c);
  planner.launches.reserve(2 + 8 * plan.layers.size() + 3);
  graph::walk_forward(plan, c.tokens, c.logit_rows, /*fused_projections=*/true, planner);
  return std::move(planner.launches);
}

std::string describe(const KernelLaunch& l) {
  std::ostringstream o;
  o << (l.layer < 0 ? std::string("model") : "L" + std::to_string(l.layer)) << ' ' << kind_name(l.kind);
  if (l.weight != Weight::None) o << ' ' << weight_name(l.weight);
  o << " [" << l.m << 'x' << l.n;
  if (l.k) o << 'x' << l.k;
  o << "] " << buffer_name(l.in) << "->" << buffer_name(l.out);
  if (l.accumulate) o << " +=";
  if (l.tensor_cores) o << " tc";
  if (l.bf16_out) o << " bf16";
  if (l.logit_rows) o << " logit_rows";
  if (l.embeds_next) o << " embeds_next";
  if (l.norm != Weight::None) o << " norm=" << weight_name(l.norm);
  if (l.prologue == GemvPrologue::RmsNorm) o << " prologue=rmsnorm";
  if (l.epilogue != GemvEpilogue::Plain) o << " epilogue=" << epilogue_name(l.epilogue);
  if (l.ss_in >= 0) o << " ss_in=" << l.ss_in;
  if (l.ss_out >= 0) o << " ss_out=" << l.ss_out;
  return o.str();
}

}  // namespace synaptix::engine::cuda
