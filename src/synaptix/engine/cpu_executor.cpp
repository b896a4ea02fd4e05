#include "synaptix/engine/cpu_executor.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/engine/synchronous_greedy_steps.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/graph/forward_walk.h"
#include "synaptix/kernels/attention/decode_default.h"
#include "synaptix/kernels/attention/prefill_default.h"
#include "synaptix/kernels/attention/reference.h"
#include "synaptix/kernels/embedding/reference.h"
#include "synaptix/kernels/geglu/reference.h"
#include "synaptix/kernels/linear/reference.h"
#include "synaptix/kernels/moe/reference.h"
#include "synaptix/kernels/rmsnorm/reference.h"
#include "synaptix/kernels/rope/reference.h"
#include "synaptix/kernels/softcap/reference.h"
#include "synaptix/kernels/swiglu/reference.h"
#include "synaptix/model/model.h"

namespace synaptix::engine {

namespace {

using model::TensorRef;

std::vector<float> f32_copy(const TensorRef* t) {
  std::vector<float> v(static_cast<size_t>(t->numel()));
  kernels::to_f32(t->data, t->dtype, t->numel(), v.data());
  return v;
}

// An RMSNorm weight as the scale the kernels multiply by: offset + w (gemma3's (1 + w) folded in at load, so
// every RMSNorm kernel applies unchanged).
std::vector<float> norm_f32(const TensorRef* t, double offset) {
  std::vector<float> v = f32_copy(t);
  if (offset != 0)
    for (auto& x : v) x += static_cast<float>(offset);
  return v;
}

// Small per-layer vectors (norm weights, biases) converted to f32 once at load.
struct LayerF32 {
  std::vector<float> attn_norm, mlp_norm, q_norm, k_norm, q_bias, k_bias, v_bias;
  std::vector<float> post_attn_norm, post_mlp_norm;  // gemma3
};

class CpuExecutor final : public Executor, public GreedyStep, public PipelinedGreedyStep {
 public:
  CpuExecutor(const model::Model& m, KvConfig kv, const kernels::KernelSet* ks)
      : m_(m), s_(m.spec), plan_(graph::build_forward_plan(m.spec)), walk_(graph::walk_forward(plan_, 1, 0, false)), ks_(ks),
        pipeline_([this](std::span<const SeqChunk> c, std::vector<int32_t>& ids) { argmax(c, ids); },
                  kv.block_size > 0 ? kv.block_size : 16) {
    check_weights();
    block_size_ = kv.block_size > 0 ? kv.block_size : 16;
    num_blocks_ = kv.num_blocks;
    if (num_blocks_ <= 0) {
      const int64_t ctx = std::min<int64_t>(s_.max_position_embeddings, 4096);
      num_blocks_ = (ctx + block_size_ - 1) / block_size_;
    }
    kv_format_ = kv.format;
    const size_t slots = static_cast<size_t>(num_blocks_ * block_size_);
    const size_t per_layer = slots * static_cast<size_t>(s_.kv_dim()) * kernels::kv_element_bytes(kv_format_);
    k_cache_.assign(static_cast<size_t>(s_.num_layers), std::vector<uint8_t>(per_layer));
    v_cache_.assign(static_cast<size_t>(s_.num_layers), std::vector<uint8_t>(per_layer));
    if (kernels::kv_format_has_scales(kv_format_)) {
      const size_t scales = slots * static_cast<size_t>(s_.num_kv_heads);
      k_scale_.assign(static_cast<size_t>(s_.num_layers), std::vector<float>(scales));
      v_scale_.assign(static_cast<size_t>(s_.num_layers), std::vector<float>(scales));
    }
    const double off = plan_.norm_weight_offset;
    for (const auto& L : m.layers) {
      LayerF32 f;
      f.attn_norm = norm_f32(L.attn_norm, off);
      f.mlp_norm = norm_f32(L.mlp_norm, off);
      if (L.q_norm) f.q_norm = norm_f32(L.q_norm, off), f.k_norm = norm_f32(L.k_norm, off);
      if (L.post_attn_norm) f.post_attn_norm = norm_f32(L.post_attn_norm, off);
      if (L.post_mlp_norm) f.post_mlp_norm = norm_f32(L.post_mlp_norm, off);
      if (L.q_bias) f.q_bias = f32_copy(L.q_bias), f.k_bias = f32_copy(L.k_bias), f.v_bias = f32_copy(L.v_bias);
      layers_.push_back(std::move(f));
    }
    final_norm_ = norm_f32(m.final_norm, off);
    make_rope_tables(0);
    const kernels::PagedKv shape{nullptr, nullptr, block_size_, s_.num_kv_heads, s_.head_dim, nullptr};
    prefill_attention_ = kernels::attention_prefill_applies(s_.num_heads, shape, 0.0f);
  }

  const model::Spec& spec() const override { return s_; }
  int64_t num_blocks() const override { return num_blocks_; }
  int64_t block_size() const override { return block_size_; }

  void step(std::span<const SeqChunk> chunks, std::vector<float>& logits) override {
    pipeline_.require_idle("step");
    pipeline_.note_other_step();
    const int64_t R = forward(chunks);
    logits.resize(static_cast<size_t>(R * s_.vocab_size));
    if (R == 0) return;
    linear(last_.data(), m_.lm_head, {}, logits.data(), R);
    if (plan_.final_logit_softcap > 0)
      kernels::softcap_reference(logits.data(), R * s_.vocab_size, static_cast<float>(plan_.final_logit_softcap));
  }

  void step_argmax(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) override {
    pipeline_.require_idle("step_argmax");
    argmax(chunks, ids);
    pipeline_.note_greedy_ids(ids);
  }

  // PipelinedGreedyStep: the enqueued steps run at once (engine/synchronous_greedy_steps.h).
  int64_t max_greedy_steps(int64_t seqs) const override { return pipeline_.max_steps(seqs); }
  void enqueue_greedy(std::span<const SeqChunk> chunks, bool chain_tokens, int64_t steps) override {
    pipeline_.enqueue(chunks, chain_tokens, steps);
  }
  void finish_greedy(std::vector<int32_t>& ids) override { pipeline_.finish(ids); }
  bool overlaps_host() const override { return false; }

 private:
  void argmax(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) {
    // The final logit soft-cap is monotonic: the argmax of the capped logits is the argmax of the raw ones.
    const int64_t R = forward(chunks);
    ids.resize(static_cast<size_t>(R));
    if (R == 0) return;
    const TensorRef* w = m_.lm_head;
    if (ks_)
      if (const auto* fn = ks_->lm_head_argmax(R, w->shape[0], w->shape[1], w->dtype)) return (*fn)(last_.data(), w->data, ids.data(), R);
    std::vector<float>& logits = argmax_logits_;  // kept across steps: no page faults per token
    logits.resize(static_cast<size_t>(R * s_.vocab_size));
    linear(last_.data(), w, {}, logits.data(), R);
    for (int64_t r = 0; r < R; ++r) {
      const float* row = logits.data() + r * s_.vocab_size;
      ids[static_cast<size_t>(r)] = static_cast<int32_t>(std::max_element(row, row + s_.vocab_size) - row);
    }
  }

  // The plan's steps need their weights: refused at construction, not met mid-step.
  void check_weights() const {
    if (m_.layers.size() != plan_.layers.size())
      fail("executor: ", m_.layers.size(), " layers of weights for a forward plan of ", plan_.layers.size());
    for (size_t l = 0; l < plan_.layers.size(); ++l) {
      const graph::LayerStep& st = plan_.layers[l];
      const model::LayerWeights& L = m_.layers[l];
      auto need = [&](bool ok, const char* what) {
        if (!ok) fail("executor: layer ", l, " of the ", model::family_name(plan_.family), " forward needs ", what,
                      ", which the model's weights lack");
      };
      need(!st.attention.qk_norm || (L.q_norm && L.k_norm), "q_norm and k_norm");
      need(!st.attention.qkv_bias || (L.q_bias && L.k_bias && L.v_bias), "q, k and v biases");
      need(!st.post_attention_norm || L.post_attn_norm, "a post-attention norm");
      need(!st.post_mlp_norm || L.post_mlp_norm, "a post-MLP norm");
      need(st.mlp.kind == graph::MlpKind::Dense ? (L.gate && L.up && L.down) : (L.router && !L.experts.empty()),
           st.mlp.kind == graph::MlpKind::Dense ? "gate, up and down projections" : "a router and experts");
    }
  }

  // The layers over the chunks' tokens; leaves the final-normed rows whose logits are wanted in last_ and
  // returns how many there are.
  int64_t forward(std::span<const SeqChunk> chunks) {
    // Flatten the chunks into T token rows (buffers kept across steps: no allocation per step).
    std::vector<int32_t>& ids = ids_;
    std::vector<int64_t>& pos = pos_;
    std::vector<int32_t>& owner = owner_;
    std::vector<int64_t>& logit_rows = logit_rows_;
    ids.clear();
    pos.clear();
    owner.clear();
    logit_rows.clear();
    attn_units_.clear();
    int64_t max_len = 0;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const SeqChunk& ch = chunks[c];
      if (ch.tokens.empty()) fail("executor: chunk ", c, " has no tokens");
      const int64_t end = ch.start_pos + static_cast<int64_t>(ch.tokens.size());
      if (end > static_cast<int64_t>(ch.block_table.size()) * block_size_)
        fail("executor: chunk ", c, " reaches position ", end, " but its block table covers only ",
             ch.block_table.size() * static_cast<size_t>(block_size_));
      for (int32_t b : ch.block_table)
        if (b < 0 || b >= num_blocks_) fail("executor: block id ", b, " out of range [0, ", num_blocks_, ")");
      max_len = std::max(max_len, end);
      plan_attention(static_cast<int64_t>(ids.size()), static_cast<int64_t>(ch.tokens.size()));
      for (size_t i = 0; i < ch.tokens.size(); ++i) {
        if (ch.tokens[i] < 0 || ch.tokens[i] >= s_.vocab_size)
          fail("executor: token id ", ch.tokens[i], " out of range [0, ", s_.vocab_size, ")");
        if (ch.all_logits || i + 1 == ch.tokens.size()) logit_rows.push_back(static_cast<int64_t>(ids.size()));
        ids.push_back(ch.tokens[i]);
        pos.push_back(ch.start_pos + static_cast<int64_t>(i));
        owner.push_back(static_cast<int32_t>(c));
      }
    }
    const int64_t T = static_cast<int64_t>(ids.size());
    if (T == 0) {
      last_.clear();
      return 0;
    }
    if (dynamic_rope_) make_rope_tables(max_len);
    const int64_t h = s_.hidden_size, qd = s_.q_dim(), kvd = s_.kv_dim(), hd = s_.head_dim;
    x_.resize(static_cast<size_t>(T * h));
    xn_.resize(x_.size());
    kernels::embedding_reference(m_.embed->data, m_.embed->dtype, h, ids.data(), T, x_.data());
    if (plan_.embedding_scale != 1.0)
      for (auto& e : x_) e *= static_cast<float>(plan_.embedding_scale);
    q_.resize(static_cast<size_t>(T * qd));
    k_.resize(static_cast<size_t>(T * kvd));
    v_.resize(static_cast<size_t>(T * kvd));
    attn_.resize(static_cast<size_t>(T * qd));
    const float eps = static_cast<float>(plan_.rms_norm_eps);

    std::vector<const int32_t*>& tables = tables_;
    tables.resize(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) tables[static_cast<size_t>(t)] = chunks[static_cast<size_t>(owner[t])].block_table.data();
    order_attention_units();
    // The layers in the order the forward walker gives (graph/forward_walk.h), each op dispatched here. The CPU
    // runs the q/k norm inside the RoPE and KV-write loop, and a dense MLP's gate/up, activation and down (or a
    // routed MLP's router and experts) as one op. xn_ holds the previous sublayer's output, not yet added to
    // the residual x_: the add is fused into the next norm.
    for (const graph::StepOp& op : walk_) {
      if (op.layer < 0) continue;  // the embedding (above), the final norm and the head (below, and the caller)
      const int64_t l = op.layer;
      const model::LayerWeights& L = m_.layers[static_cast<size_t>(l)];
      const LayerF32& F = layers_[static_cast<size_t>(l)];
      const graph::LayerStep& P = *op.step;  // what this layer computes
      const kernels::RopeTable& rope = P.attention.rope == graph::RopeTableId::Sliding ? sliding_rope_ : rope_;
      const float scale = static_cast<float>(P.attention.scale);
      const float attn_cap = static_cast<float>(P.attention.logit_softcap);
      uint8_t* kc = k_cache_[static_cast<size_t>(l)].data();
      uint8_t* vc = v_cache_[static_cast<size_t>(l)].data();
      float* ksc = k_scale_.empty() ? nullptr : k_scale_[static_cast<size_t>(l)].data();
      float* vsc = v_scale_.empty() ? nullptr : v_scale_[static_cast<size_t>(l)].data();
      switch (op.kind) {
        case graph::StepOpKind::AttentionNorm:
          add_rmsnorm(l > 0 ? xn_.data() : nullptr, F.attn_norm.data(), xn_.data(), T, eps);
          break;
        case graph::StepOpKind::QkvProjection:
          linear_each(xn_.data(),
                      std::array<Product, 3>{
                          {{L.q, &F.q_bias, q_.data()}, {L.k, &F.k_bias, k_.data()}, {L.v, &F.v_bias, v_.data()}}},
                      T);
          break;
        case graph::StepOpKind::QkNorm:  // with RoPE, per token
          break;
        case graph::StepOpKind::RopeKvWrite: {
          const size_t row_bytes = static_cast<size_t>(hd) * kernels::kv_element_bytes(kv_format_);
          ThreadPool::global().parallel_for(static_cast<size_t>(T), [&](size_t b, size_t e) {
            for (size_t t = b; t < e; ++t) {
              float* qt = q_.data() + t * static_cast<size_t>(qd);
              float* kt = k_.data() + t * static_cast<size_t>(kvd);
              if (P.attention.qk_norm) {
                kernels::rmsnorm_reference(qt, F.q_norm.data(), qt, s_.num_heads, hd, eps);
                kernels::rmsnorm_reference(kt, F.k_norm.data(), kt, s_.num_kv_heads, hd, eps);
              }
              kernels::rope_reference(qt, s_.num_heads, hd, pos[t], rope);
              kernels::rope_reference(kt, s_.num_kv_heads, hd, pos[t], rope);
              const SeqChunk& ch = chunks[static_cast<size_t>(owner[t])];
              const int64_t slot = static_cast<int64_t>(ch.block_table[pos[t] / block_size_]) * block_size_ + pos[t] % block_size_;
              // Stored in the cache's format: this token's own attention below reads what later steps will.
              const float* vt = v_.data() + t * static_cast<size_t>(kvd);
              for (int64_t kh = 0; kh < s_.num_kv_heads; ++kh) {
                const size_t row = static_cast<size_t>(slot * s_.num_kv_heads + kh);
                kernels::kv_encode_head(kv_format_, kt + kh * hd, hd, kc + row * row_bytes, ksc ? ksc + row : nullptr);
                kernels::kv_encode_head(kv_format_, vt + kh * hd, hd, vc + row * row_bytes, vsc ? vsc + row : nullptr);
              }
            }
          });
          break;
        }
        case graph::StepOpKind::Attention: {
          const int64_t window = P.attention.window;
          const kernels::AttentionFn* att =
              ks_ && attn_cap == 0 && kv_format_ == kernels::KvFormat::F32
                  ? ks_->attention(T, s_.num_heads, s_.num_kv_heads, hd, max_len)
                  : nullptr;  // the recipe's attention kernels read an f32 cache
          if (att) {
            (*att)({q_.data(), reinterpret_cast<const float*>(kc), reinterpret_cast<const float*>(vc), block_size_,
                    tables.data(), pos.data(), window, scale, attn_.data(), T});
          } else if (attn_cap == 0 && prefill_attention_) {
            // Tiles of a chunk's tokens per KV head (prefill), single tokens otherwise (decode).
            ThreadPool::global().parallel_for(attn_units_.size(), [&](size_t b, size_t e) {
              for (size_t u = b; u < e; ++u) {
                const AttnUnit& a = attn_units_[u];
                kernels::PagedKv kv{kc, vc, block_size_, s_.num_kv_heads, hd, tables[static_cast<size_t>(a.row)], kv_format_, ksc, vsc};
                const float* qa = q_.data() + a.row * qd;
                float* oa = attn_.data() + a.row * qd;
                if (a.tokens > 0)
                  kernels::attention_prefill_tile(qa, qd, a.tokens, pos.data() + a.row, s_.num_heads, kv, a.kv_head, window, scale, oa);
                else
                  kernels::attention_decode_default(qa, s_.num_heads, kv, pos[static_cast<size_t>(a.row)], window, scale, oa);
              }
            });
          } else {
            ThreadPool::global().parallel_for(static_cast<size_t>(T), [&](size_t b, size_t e) {
              for (size_t t = b; t < e; ++t) {
                kernels::PagedKv kv{kc, vc, block_size_, s_.num_kv_heads, hd, tables[t], kv_format_, ksc, vsc};
                kernels::attention_decode_default(q_.data() + t * static_cast<size_t>(qd), s_.num_heads, kv, pos[t],
                                                  window, scale, attn_.data() + t * static_cast<size_t>(qd), attn_cap);
              }
            });
          }
          break;
        }
        case graph::StepOpKind::OutProjection:
          linear(attn_.data(), L.o, {}, xn_.data(), T);
          break;
        case graph::StepOpKind::PostAttentionNorm:
          kernels::rmsnorm_reference(xn_.data(), F.post_attn_norm.data(), xn_.data(), T, h, eps);
          break;
        case graph::StepOpKind::MlpNorm:
          add_rmsnorm(xn_.data(), F.mlp_norm.data(), xn_.data(), T, eps);
          break;
        case graph::StepOpKind::GateUpProjection:  // with the activation and down (or the fused gate_up_silu kernel)
          dense_mlp(L.gate, L.up, L.down, P.mlp.activation, xn_.data(), T, xn_.data());
          break;
        case graph::StepOpKind::MoeRouter:  // with the experts
          moe(L, P.mlp, T);
          break;
        case graph::StepOpKind::PostMlpNorm:
          kernels::rmsnorm_reference(xn_.data(), F.post_mlp_norm.data(), xn_.data(), T, h, eps);
          break;
        default:  // GatedActivation, DownProjection, MoeExperts: run above
          break;
      }
    }
    if (s_.num_layers > 0)
      for (size_t i = 0; i < x_.size(); ++i) x_[i] += xn_[i];

    // Final norm only for the rows whose logits are wanted.
    const int64_t R = static_cast<int64_t>(logit_rows.size());
    last_.resize(static_cast<size_t>(R * h));
    for (int64_t r = 0; r < R; ++r)
      kernels::rmsnorm_reference(x_.data() + logit_rows[r] * h, final_norm_.data(), last_.data() + r * h, 1, h, eps);
    return R;
  }

  // The attention work of a chunk of `tokens` rows from `row`: tiles of up to kPrefillTileTokens tokens per KV
  // head when the chunk is a prefill, one decode unit per token otherwise.
  void plan_attention(int64_t row, int64_t tokens) {
    if (prefill_attention_ && tokens >= kPrefillMinTokens) {
      for (int64_t t0 = 0; t0 < tokens; t0 += kernels::kPrefillTileTokens)
        for (int64_t kvh = 0; kvh < s_.num_kv_heads; ++kvh)
          attn_units_.push_back({row + t0, std::min(kernels::kPrefillTileTokens, tokens - t0), kvh});
    } else {
      for (int64_t t = 0; t < tokens; ++t) attn_units_.push_back({row + t, 0, 0});
    }
  }
  // Later tiles attend to more keys: alternate the cheapest and the costliest so that the pool's contiguous
  // shares cost about the same.
  void order_attention_units() {
    units_scratch_.clear();
    for (size_t i = 0, j = attn_units_.size(); i < j;) {
      units_scratch_.push_back(attn_units_[i++]);
      if (i < j) units_scratch_.push_back(attn_units_[--j]);
    }
    attn_units_.swap(units_scratch_);
  }

  // x_ += delta (when not null), then y = rmsnorm(x_) * gamma; y may alias delta.
  void add_rmsnorm(const float* delta, const float* gamma, float* y, int64_t rows, float eps) {
    const int64_t h = s_.hidden_size;
    if (delta && ks_)
      if (const kernels::AddRmsNormFn* fn = ks_->add_rmsnorm(rows, h)) return (*fn)(x_.data(), delta, gamma, y, rows, eps);
    if (delta)
      for (int64_t i = 0; i < rows * h; ++i) x_[static_cast<size_t>(i)] += delta[i];
    kernels::rmsnorm_reference(x_.data(), gamma, y, rows, h, eps);
  }
  // Products of one x: each through the recipe's kernel where it has one; otherwise together through
  // linear_default_multi (one parallel region, one barrier).
  struct Product {
    const TensorRef* w;
    const std::vector<float>* bias;
    float* y;
  };
  template <size_t P>
  void linear_each(const float* x, const std::array<Product, P>& ps, int64_t rows) {
    std::array<kernels::LinearArgs, P> args;
    size_t n = 0;
    for (const Product& p : ps) {
      kernels::LinearArgs a{x, p.w->data, p.w->dtype, p.bias->empty() ? nullptr : p.bias->data(), p.y, rows,
                            p.w->shape[0], p.w->shape[1]};
      const kernels::LinearFn* fn = ks_ ? ks_->linear(a.m, a.n, a.k, a.w_dtype) : nullptr;
      if (fn) (*fn)(a);
      else args[n++] = a;
    }
    kernels::linear_default_multi(std::span<const kernels::LinearArgs>(args.data(), n));
  }
  void linear(const float* x, const TensorRef* w, const std::vector<float>& bias, float* y, int64_t rows) {
    kernels::LinearArgs a{x, w->data, w->dtype, bias.empty() ? nullptr : bias.data(), y, rows, w->shape[0], w->shape[1]};
    if (ks_) {
      if (const kernels::LinearFn* fn = ks_->linear(a.m, a.n, a.k, a.w_dtype)) {
        (*fn)(a);
        return;
      }
    }
    kernels::linear_default(a);
  }

  // The rotary tables: the global layers', and the sliding-window layers' where they have their own (gemma3).
  // Dynamic scaling depends on the longest sequence, so it is rebuilt every step.
  void make_rope_tables(int64_t max_len) {
    dynamic_rope_ = s_.rope_scaling.type == "dynamic" ||
                    (plan_.uses_sliding_rope() && s_.sliding_rope_scaling.type == "dynamic");
    rope_ = kernels::make_rope_table(s_, max_len);
    for (int64_t l = 0; l < s_.num_layers; ++l)
      if (plan_.layers[static_cast<size_t>(l)].attention.rope == graph::RopeTableId::Sliding) {
        sliding_rope_ = kernels::make_layer_rope_table(s_, l, max_len);
        break;
      }
  }

  // out = down(act(gate(x)) * up(x)), act silu or gelu_tanh; out may alias x.
  void dense_mlp(const TensorRef* gate, const TensorRef* up, const TensorRef* down, model::Activation act,
                 const float* x, int64_t rows, float* out) {
    const int64_t f = gate->shape[0];
    g_.resize(static_cast<size_t>(rows * f));
    const bool gelu = act == model::Activation::GeluTanh;
    if (ks_ && up->dtype == gate->dtype && !gelu)
      if (const kernels::GateUpSiluFn* fn = ks_->gate_up_silu(rows, f, gate->shape[1], gate->dtype)) {
        (*fn)(x, gate->data, up->data, g_.data(), rows);
        linear(g_.data(), down, {}, out, rows);
        return;
      }
    u_.resize(g_.size());
    linear_each(x, std::array<Product, 2>{{{gate, &kNoBias, g_.data()}, {up, &kNoBias, u_.data()}}}, rows);
    if (gelu) kernels::geglu_tanh_reference(g_.data(), u_.data(), g_.data(), rows * f);
    else kernels::swiglu_reference(g_.data(), u_.data(), g_.data(), rows * f);
    linear(g_.data(), down, {}, out, rows);
  }

  // Sparse MoE: route every token, then run each expert once over the tokens routed to it.
  void moe(const model::LayerWeights& L, const graph::MlpStep& mlp, int64_t T) {
    const int64_t h = s_.hidden_size, E = mlp.experts;
    std::vector<float> router(static_cast<size_t>(T * E));
    linear(xn_.data(), L.router, {}, router.data(), T);
    std::vector<std::vector<std::pair<int64_t, float>>> routed(static_cast<size_t>(E));
    for (int64_t t = 0; t < T; ++t)
      for (const auto& c : kernels::moe_route_reference(router.data() + t * E, E, mlp.top_k, mlp.norm_topk_prob))
        routed[static_cast<size_t>(c.expert)].push_back({t, c.weight});
    std::vector<float> out(static_cast<size_t>(T * h), 0.0f), xin, xout;
    for (int64_t e = 0; e < E; ++e) {
      const auto& toks = routed[static_cast<size_t>(e)];
      if (toks.empty()) continue;
      const int64_t n = static_cast<int64_t>(toks.size());
      xin.resize(static_cast<size_t>(n * h));
      xout.resize(xin.size());
      for (int64_t i = 0; i < n; ++i) std::copy_n(xn_.data() + toks[i].first * h, h, xin.data() + i * h);
      const auto& ex = L.experts[static_cast<size_t>(e)];
      dense_mlp(ex.gate, ex.up, ex.down, mlp.activation, xin.data(), n, xout.data());
      for (int64_t i = 0; i < n; ++i)
        for (int64_t d = 0; d < h; ++d) out[toks[i].first * h + d] += toks[i].second * xout[i * h + d];
    }
    std::copy(out.begin(), out.end(), xn_.begin());
  }

  static inline const std::vector<float> kNoBias;
  const model::Model& m_;
  const model::Spec& s_;
  const graph::ForwardPlan plan_;  // what each layer computes (graph/forward_plan.h)
  const std::vector<graph::StepOp> walk_;  // its ops in order (graph/forward_walk.h); shapes unused here
  const kernels::KernelSet* ks_;
  int64_t block_size_ = 16, num_blocks_ = 0;
  kernels::KvFormat kv_format_ = kernels::KvFormat::F32;
  std::vector<std::vector<uint8_t>> k_cache_, v_cache_;  // [slots, kv_heads, head_dim] elements of kv_format_
  std::vector<std::vector<float>> k_scale_, v_scale_;    // [slots, kv_heads] where the format has scales
  std::vector<LayerF32> layers_;
  std::vector<float> final_norm_;
  kernels::RopeTable rope_, sliding_rope_;
  bool dynamic_rope_ = false;
  std::vector<float> x_, xn_, q_, k_, v_, attn_, g_, u_, last_, argmax_logits_;
  // One step's token rows and attention work, kept across steps.
  struct AttnUnit {
    int64_t row, tokens, kv_head;  // tokens == 0: the single token at `row` through the decode kernel
  };
  static constexpr int64_t kPrefillMinTokens = 4;
  bool prefill_attention_ = false;  // the tiled prefill kernel fits this model (head dim, group size)
  std::vector<int32_t> ids_, owner_;
  std::vector<int64_t> pos_, logit_rows_;
  std::vector<const int32_t*> tables_;
  std::vector<AttnUnit> attn_units_, units_scratch_;
  SynchronousGreedySteps pipeline_;
};

}  // namespace

std::unique_ptr<Executor> make_cpu_executor(const model::Model& m, KvConfig kv, const kernels::KernelSet* kernels) {
  return std::make_unique<CpuExecutor>(m, kv, kernels);
}

}  // namespace synaptix::engine
