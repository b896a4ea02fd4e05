#include "synaptix/graph/op_graph.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/quant/block_dtype.h"

namespace synaptix::graph {
namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

Op simple(std::string name, OpKind kind, int64_t m_lo, int64_t m, int64_t n, int64_t k, int64_t count) {
  Op o;
  o.name = std::move(name);
  o.kind = kind;
  o.m_lo = m_lo;
  o.m = m;
  o.n = n;
  o.k = k;
  o.count = count;
  return o;
}

Op linear(std::string name, int64_t m_lo, int64_t m, int64_t n, int64_t k, DType w, bool bias, int64_t count,
          OpKind kind = OpKind::Linear) {
  Op o = simple(std::move(name), kind, m_lo, m, n, k, count);
  o.w_dtype = w;
  o.bias = bias;
  return o;
}

// Layers of the plan for which `pred` holds.
template <class Pred>
int64_t count_layers(const ForwardPlan& p, Pred pred) {
  return static_cast<int64_t>(std::count_if(p.layers.begin(), p.layers.end(), pred));
}

// The ops of one step over m_lo..m tokens, from the spec's forward plan (ops of the same name across layers
// are one op with a count); `ctx` is the KV length attention is sized for. The spec gives the dtypes.
std::vector<Op> step_ops(const model::Spec& s, int64_t m_lo, int64_t m, int64_t ctx) {
  const ForwardPlan p = build_forward_plan(s);
  const DType w = s.dtype;
  const int64_t h = p.hidden, L = static_cast<int64_t>(p.layers.size());
  const bool bias = std::any_of(p.layers.begin(), p.layers.end(), [](const LayerStep& l) { return l.attention.qkv_bias; });
  std::vector<Op> ops;
  ops.push_back(simple("embed_tokens", OpKind::Embedding, m_lo, m, h, 0, 1));
  ops.push_back(simple("layers.*.input_layernorm", OpKind::AddRmsNorm, m_lo, m, h, 0, L));
  ops.push_back(linear("layers.*.self_attn.q_proj", m_lo, m, p.q_dim(), h, w, bias, L));
  ops.push_back(linear("layers.*.self_attn.k_proj", m_lo, m, p.kv_dim(), h, w, bias, L));
  ops.push_back(linear("layers.*.self_attn.v_proj", m_lo, m, p.kv_dim(), h, w, bias, L));
  if (const int64_t n = count_layers(p, [](const LayerStep& l) { return l.attention.qk_norm; }))
    ops.push_back(simple("layers.*.self_attn.qk_norm", OpKind::RmsNorm, m_lo, m * (p.heads + p.kv_heads), p.head_dim, 0, n));
  ops.push_back(simple("layers.*.rope", OpKind::Rope, m_lo, m, p.heads + p.kv_heads, p.head_dim, L));
  // Windowed layers attend to at most their window; where some layers slide and others do not (gemma3),
  // each kind is its own op.
  int64_t window = 0;
  for (const LayerStep& l : p.layers) window = std::max(window, l.attention.window);
  const int64_t sliding = count_layers(p, [](const LayerStep& l) { return l.attention.window > 0; });
  Op att = simple("layers.*.self_attn.attention", OpKind::Attention, m_lo, m, p.heads, p.head_dim, L);
  att.kv_heads = p.kv_heads;
  att.ctx = sliding == L ? std::min(ctx, window) : ctx;
  if (sliding > 0 && sliding < L) {
    att.count = L - sliding;
    Op local = att;
    local.name = "layers.*.self_attn.sliding_attention";
    local.ctx = std::min(ctx, window);
    local.count = sliding;
    ops.push_back(local);
  }
  ops.push_back(att);
  ops.push_back(linear("layers.*.self_attn.o_proj", m_lo, m, h, p.q_dim(), w, false, L));
  // With a post-attention norm (gemma3) the attention output is normed before the residual add, the MLP's
  // input after; else the add is fused into the MLP's input norm.
  if (const int64_t n = count_layers(p, [](const LayerStep& l) { return l.post_attention_norm; })) {
    ops.push_back(simple("layers.*.post_attention_layernorm", OpKind::RmsNorm, m_lo, m, h, 0, n));
    ops.push_back(simple("layers.*.pre_feedforward_layernorm", OpKind::AddRmsNorm, m_lo, m, h, 0, n));
  }
  if (const int64_t n = count_layers(p, [](const LayerStep& l) { return !l.post_attention_norm; }))
    ops.push_back(simple("layers.*.post_attention_layernorm", OpKind::AddRmsNorm, m_lo, m, h, 0, n));
  auto dense = [](const LayerStep& l) { return l.mlp.kind == MlpKind::Dense; };
  if (const int64_t n = count_layers(p, dense)) {
    const LayerStep& first = *std::find_if(p.layers.begin(), p.layers.end(), dense);
    const int64_t inter = first.mlp.inter;
    // The fused kernel computes SiLU only; a GELU-tanh MLP (gemma3) runs gate_proj and up_proj.
    if (const int64_t silu = count_layers(p, [&](const LayerStep& l) { return dense(l) && l.mlp.activation == model::Activation::Silu; }))
      ops.push_back(linear("layers.*.mlp.gate_up_silu", m_lo, m, inter, h, w, false, silu, OpKind::GateUpSilu));
    ops.push_back(linear("layers.*.mlp.gate_proj", m_lo, m, inter, h, w, false, n));
    ops.push_back(linear("layers.*.mlp.up_proj", m_lo, m, inter, h, w, false, n));
    ops.push_back(linear("layers.*.mlp.down_proj", m_lo, m, h, inter, w, false, n));
    if (const int64_t post = count_layers(p, [&](const LayerStep& l) { return dense(l) && l.post_mlp_norm; }))
      ops.push_back(simple("layers.*.post_feedforward_layernorm", OpKind::RmsNorm, m_lo, m, h, 0, post));
  }
  auto routed = [](const LayerStep& l) { return l.mlp.kind == MlpKind::Moe; };
  if (const int64_t moe_layers = count_layers(p, routed)) {
    const MlpStep& mlp = std::find_if(p.layers.begin(), p.layers.end(), routed)->mlp;
    const int64_t E = mlp.experts, topk = std::max<int64_t>(1, mlp.top_k), inter = mlp.inter;
    ops.push_back(linear("layers.*.mlp.gate", m_lo, m, E, h, w, false, moe_layers));
    ops.push_back(simple("layers.*.mlp.router_topk", OpKind::MoeRouter, m_lo, m, E, topk, moe_layers));
    // Tokens per expert if routing is even: ceil(m * topk / E), at least 1; at most m.
    auto per = [&](int64_t t) { return std::min(t, std::max<int64_t>(1, (t * topk + E - 1) / E)); };
    const int64_t pm = per(m), plo = std::min(per(m_lo), pm);
    const int64_t active = std::min(E, m * topk) * moe_layers;
    ops.push_back(linear("layers.*.mlp.experts.*.gate_proj", plo, pm, inter, h, w, false, active, OpKind::MoeExpert));
    ops.push_back(linear("layers.*.mlp.experts.*.up_proj", plo, pm, inter, h, w, false, active, OpKind::MoeExpert));
    ops.push_back(linear("layers.*.mlp.experts.*.down_proj", plo, pm, h, inter, w, false, active, OpKind::MoeExpert));
  }
  // The final norm and the LM head run on the sampled rows only: one per sequence. A decode step samples
  // every token; a prefill chunk (one sequence) only its last.
  const int64_t s_lo = m > 64 ? 1 : m_lo, s_hi = m > 64 ? 1 : m;
  ops.push_back(simple("norm", OpKind::RmsNorm, s_lo, s_hi, h, 0, 1));
  ops.push_back(linear("lm_head", s_lo, s_hi, p.vocab, h, w, false, 1));
  ops.push_back(simple("argmax", OpKind::Argmax, s_lo, s_hi, p.vocab, 0, 1));
  // The greedy path's alternative to lm_head + argmax (like gate_up_silu beside gate_proj and up_proj).
  ops.push_back(linear("lm_head_argmax", s_lo, s_hi, p.vocab, h, w, false, 1, OpKind::LmHeadArgmax));
  // A GGUF model's matrices keep the file's block types (Spec::weight_dtypes). No fused kernel takes block
  // weights, so the fused ops are left out where their weights are blocks: the executor runs the linears.
  for (auto& o : ops)
    if (auto it = s.weight_dtypes.find(o.name); it != s.weight_dtypes.end()) o.w_dtype = it->second;
  std::erase_if(ops, [](const Op& o) {
    return (o.kind == OpKind::GateUpSilu || o.kind == OpKind::LmHeadArgmax) && is_block_dtype(o.w_dtype);
  });
  return ops;
}

}  // namespace

const char* op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::Embedding: return "embedding";
    case OpKind::AddRmsNorm: return "add_rmsnorm";
    case OpKind::RmsNorm: return "rmsnorm";
    case OpKind::Linear: return "linear";
    case OpKind::Rope: return "rope";
    case OpKind::Attention: return "attention";
    case OpKind::GateUpSilu: return "gate_up_silu";
    case OpKind::MoeRouter: return "moe_router";
    case OpKind::MoeExpert: return "moe_expert";
    case OpKind::Argmax: return "argmax";
    case OpKind::LmHeadArgmax: return "lm_head_argmax";
  }
  return "?";
}

std::string Op::signature() const {
  std::ostringstream os;
  os << op_kind_name(kind) << " m=";
  if (m_lo != m) os << m_lo << ".." << m;
  else os << m;
  os << " n=" << n;
  if (k) os << " k=" << k;
  if (kind == OpKind::Attention) os << " kv_heads=" << kv_heads << " ctx=" << ctx;
  if (kind == OpKind::Linear || kind == OpKind::GateUpSilu || kind == OpKind::MoeExpert || kind == OpKind::LmHeadArgmax)
    os << " w=" << lower(dtype_name(w_dtype));
  if (bias) os << " bias";
  return os.str();
}

double Op::min_bytes() const {
  // Bytes per weight; a GGUF block type's are its blocks' bytes (scales included) over their elements.
  const quant::BlockFormat* blocks = quant::block_format(w_dtype);
  const double ws = blocks ? static_cast<double>(blocks->block_bytes) / static_cast<double>(blocks->block_elems)
                           : static_cast<double>(dtype_size(w_dtype));
  const double M = static_cast<double>(m), N = static_cast<double>(n), K = static_cast<double>(k);
  switch (kind) {
    case OpKind::Linear:
    case OpKind::MoeExpert: return N * K * ws + M * K * 4 + M * N * 4 + (bias ? N * 4 : 0);
    case OpKind::LmHeadArgmax: return N * K * ws + M * K * 4 + M * 4;
    case OpKind::GateUpSilu: return 2 * N * K * ws + M * K * 4 + M * N * 4;
    case OpKind::Attention: return 2.0 * ctx * kv_heads * K * 4 + 2 * M * N * K * 4;
    case OpKind::AddRmsNorm: return 4 * M * N * 4;
    default: return 2 * M * N * 4;
  }
}

double Op::flops() const {
  const double M = static_cast<double>(m), N = static_cast<double>(n), K = static_cast<double>(k);
  switch (kind) {
    case OpKind::Linear:
    case OpKind::MoeExpert:
    case OpKind::LmHeadArgmax: return 2 * M * N * K;
    case OpKind::GateUpSilu: return 4 * M * N * K;
    case OpKind::Attention: return 4.0 * M * N * K * static_cast<double>(ctx);
    default: return M * N;
  }
}

const std::vector<Bucket>& decode_buckets() {
  static const std::vector<Bucket> b{{"1", 1, 1}, {"2-4", 2, 4}, {"5-16", 5, 16}, {"17-64", 17, 64}};
  return b;
}

std::vector<int64_t> sequence_buckets(const model::Spec& s) {
  std::vector<int64_t> out;
  const int64_t maxp = s.max_position_embeddings > 0 ? s.max_position_embeddings : 8192;
  for (int64_t b = 128; b < maxp && b <= 8192; b *= 4) out.push_back(b);
  out.push_back(std::min<int64_t>(maxp, out.empty() ? maxp : std::max<int64_t>(maxp, out.back())));
  return out;
}

std::string rows_bucket_name(int64_t m_lo, int64_t m_hi) {
  if (m_hi <= 64)
    for (const auto& b : decode_buckets())
      if (m_hi <= b.hi) return b.name;
  return std::to_string(m_lo) + "-" + std::to_string(m_hi);
}

bool is_prefill_bucket_name(const std::string& name) {
  if (name == "prefill") return true;
  const auto dash = name.find('-');
  if (dash == std::string::npos || dash + 1 >= name.size()) return false;
  const std::string hi = name.substr(dash + 1);
  if (hi.size() > 9 || hi.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoll(hi) > 64;
}

std::vector<Bucket> prefill_buckets(int64_t chunk_tokens) {
  if (chunk_tokens <= 64) fail("prefill chunk of ", chunk_tokens, " tokens: expected more than 64 (below is decode)");
  std::vector<Bucket> out;
  for (int64_t lo = 65, hi = 128; lo <= chunk_tokens; lo = hi + 1, hi *= 2) {
    const int64_t end = hi >= chunk_tokens ? chunk_tokens : hi;
    out.push_back({rows_bucket_name(lo, end), lo, end});
  }
  return out;
}

OpGraph decode_graph(const model::Spec& s, const Bucket& batch, int64_t seq_len) {
  OpGraph g;
  g.phase = Phase::Decode;
  g.batch = batch;
  g.seq_len = seq_len;
  g.ops = step_ops(s, batch.lo, batch.hi, seq_len);
  return g;
}

OpGraph prefill_graph(const model::Spec& s, int64_t chunk_tokens, int64_t seq_len) {
  if (chunk_tokens <= 64) fail("prefill chunk of ", chunk_tokens, " tokens: expected more than 64 (below is decode)");
  return prefill_graph(s, Bucket{rows_bucket_name(65, chunk_tokens), 65, chunk_tokens}, seq_len);
}

OpGraph prefill_graph(const model::Spec& s, const Bucket& chunk, int64_t seq_len) {
  OpGraph g;
  g.phase = Phase::Prefill;
  g.batch = chunk;
  g.seq_len = seq_len;
  // Linear ops are sized by the chunk (a shorter prompt is a smaller m inside the bucket); attention by seq_len.
  g.ops = step_ops(s, g.batch.lo, g.batch.hi, seq_len);
  return g;
}

std::vector<OpGraph> all_graphs(const model::Spec& s, int64_t prefill_chunk_tokens) {
  std::vector<OpGraph> out;
  const auto seqs = sequence_buckets(s);
  for (const auto& b : decode_buckets())
    for (int64_t L : seqs) out.push_back(decode_graph(s, b, L));
  for (const auto& b : prefill_buckets(prefill_chunk_tokens))
    for (int64_t L : seqs)
      if (L > 64) out.push_back(prefill_graph(s, b, L));
  return out;
}

std::vector<Op> distinct_ops(const std::vector<OpGraph>& graphs, const std::vector<OpKind>& kinds) {
  std::vector<Op> out;
  std::set<std::string> seen;
  for (const auto& g : graphs)
    for (const auto& op : g.ops)
      if (std::find(kinds.begin(), kinds.end(), op.kind) != kinds.end() && seen.insert(op.signature()).second)
        out.push_back(op);
  return out;
}

}  // namespace synaptix::graph
