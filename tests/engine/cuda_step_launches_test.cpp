// The CUDA executor's launch plan of a step (engine/cuda_step_launches.h: the forward walker's ops, each
// handled by the executor's per-op function, fused kernels covering their neighbours) for every fixture,
// against the kernel sequence each of the executor's paths runs, written out here from config.json's numbers
// (made by transformers): the fused greedy decode path (norms in GEMV prologues, sums of squares kept by the
// residual's writers, multi-step graphs), the GEMV path of a post-norm model (gemma3), tensor-core prefill with
// bf16 inputs, all-MoE decode with the MLP norm in the router GEMV, MoE prefill, quantized decode with the norms
// in the quantized product, the benchmark's attention ablation; and the fusions the plan refuses. No GPU:
// engine/cuda/forward.cpp executes these lists as they are.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/fixture_models.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cuda_step_launches.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/model/spec.h"

namespace synaptix::engine::cuda {
namespace {

using LK = LaunchKind;
using W = Weight;
using B = Buffer;
using E = GemvEpilogue;

std::filesystem::path config_path(const std::string& name) { return synaptix::testing::fixture_model_dir(name) / "config.json"; }

// A fixture's numbers straight from its config.json.
struct Config {
  std::string name, type;
  int64_t layers = 0, h = 0, q = 0, kv = 0, inter = 0, vocab = 0, experts = 0;
  bool gemma = false, moe = false;
};

Config read_config(const std::string& name) {
  std::ifstream f(config_path(name));
  const nlohmann::json c = nlohmann::json::parse(f);
  Config d;
  d.name = name;
  d.type = c.at("model_type");
  d.layers = c.at("num_hidden_layers");
  d.h = c.at("hidden_size");
  const int64_t heads = c.at("num_attention_heads"), kv_heads = c.at("num_key_value_heads");
  const int64_t head_dim = c.contains("head_dim") && !c["head_dim"].is_null() ? c["head_dim"].get<int64_t>() : d.h / heads;
  d.q = heads * head_dim;
  d.kv = kv_heads * head_dim;
  d.vocab = c.at("vocab_size");
  d.gemma = d.type == "gemma3_text";
  d.moe = d.type == "mixtral" || d.type == "qwen3_moe";
  d.inter = d.moe && c.contains("moe_intermediate_size") ? c["moe_intermediate_size"].get<int64_t>()
                                                          : c.at("intermediate_size").get<int64_t>();
  d.experts = c.value("num_local_experts", c.value("num_experts", int64_t{0}));
  return d;
}

std::vector<Config> fixtures() {
  std::vector<Config> out;
  for (const std::string& name : synaptix::testing::fixture_model_names()) out.push_back(read_config(name));
  return out;
}

graph::ForwardPlan plan_of(const Config& d) { return graph::build_forward_plan(model::load_spec(config_path(d.name).string())); }

// One expected launch, field by field.
struct L {
  KernelLaunch k;
  L(LK kind, int64_t layer, int64_t m, int64_t n = 0, int64_t kk = 0) {
    k.kind = kind;
    k.layer = layer;
    k.m = m;
    k.n = n;
    k.k = kk;
  }
  L& w(W x) { k.weight = x; return *this; }
  L& io(B in, B out) { k.in = in; k.out = out; return *this; }
  L& acc() { k.accumulate = true; return *this; }
  L& tc() { k.tensor_cores = true; return *this; }
  L& bf16() { k.bf16_out = true; return *this; }
  L& logit_rows() { k.logit_rows = true; return *this; }
  L& embeds_next(bool on) { k.embeds_next = on; return *this; }
  L& norm(W n) { k.norm = n; return *this; }
  L& prologue(W n, int64_t ss) { k.prologue = GemvPrologue::RmsNorm; k.norm = n; k.ss_in = ss; return *this; }
  L& epilogue(E e, int64_t ss = -1) { k.epilogue = e; k.ss_out = ss; return *this; }
  L& ss_out(int64_t ss) { k.ss_out = ss; return *this; }
  operator KernelLaunch() const { return k; }
};

StepKernelChoices base_choices(const Config& d, int64_t tokens, int64_t rows) {
  StepKernelChoices c;
  c.tokens = tokens;
  c.logit_rows = rows;
  c.layer_weights.assign(static_cast<size_t>(d.layers), LayerWeightKinds{});
  return c;
}

E gated(const Config& d) { return d.gemma ? E::GeGlu : E::SwiGlu; }

void expect_launches(const std::vector<KernelLaunch>& got, const std::vector<KernelLaunch>& want, const std::string& what) {
  std::vector<std::string> g, w;
  for (const KernelLaunch& l : got) g.push_back(describe(l));
  for (const KernelLaunch& l : want) w.push_back(describe(l));
  EXPECT_EQ(g, w) << what;
  EXPECT_TRUE(got == want) << what;
}

// The fused greedy decode path of a dense model: per layer the q|k|v GEMV normalising x in its prologue, the
// decode attention with RoPE, o and down GEMVs adding into x with the next norm's sums of squares, the gate|up
// GEMV with the MLP norm and SwiGLU; then the head GEMV with the final norm and the argmax.
std::vector<KernelLaunch> fused_decode(const Config& d, int64_t T, bool prefetch, bool first, bool last) {
  std::vector<KernelLaunch> v;
  if (first) v.push_back(L(LK::Embedding, -1, T, d.h).io(B::None, B::X).ss_out(0));
  for (int64_t l = 0; l < d.layers; ++l) {
    v.push_back(L(LK::Gemv, l, T, d.q + 2 * d.kv, d.h).w(W::Qkv).io(B::X, B::Qkv).prologue(W::AttentionNorm, 2 * l));
    if (prefetch) v.push_back(L(LK::PrefetchWeights, l, T).w(W::O));
    v.push_back(L(LK::DecodeAttentionRope, l, T).io(B::Qkv, B::Attn));
    v.push_back(L(LK::Gemv, l, T, d.h, d.q).w(W::O).io(B::Attn, B::X).acc().epilogue(E::AccumulateSumSq, 2 * l + 1));
    v.push_back(L(LK::Gemv, l, T, 2 * d.inter, d.h).w(W::GateUp).io(B::X, B::Act).prologue(W::MlpNorm, 2 * l + 1).epilogue(gated(d)));
    v.push_back(L(LK::Gemv, l, T, d.h, d.inter).w(W::Down).io(B::Act, B::X).acc().epilogue(E::AccumulateSumSq, 2 * l + 2));
  }
  v.push_back(L(LK::Gemv, -1, T, d.vocab, d.h).w(W::Head).io(B::X, B::Logits).prologue(W::FinalNorm, 2 * d.layers).epilogue(E::ArgMax));
  v.push_back(L(LK::ArgmaxEmbedding, -1, T, d.h).io(B::Logits, B::X).embeds_next(!last));
  return v;
}

StepKernelChoices fused_decode_choices(const Config& d, int64_t T) {
  StepKernelChoices c = base_choices(d, T, T);
  c.greedy = true;
  c.dense_fused = true;
  c.gated_in_gemv = true;
  c.fused_decode_attention = true;
  return c;
}

// A sublayer's product into the residual, or (gemma3's post-norms) into xn, normed and added by its own kernel.
void sublayer_out(std::vector<KernelLaunch>& v, L product, const Config& d, int64_t l, int64_t T, W post_norm) {
  if (!d.gemma) {
    v.push_back(product.io(product.k.in, B::X).acc());
    return;
  }
  v.push_back(product.io(product.k.in, B::Xn));
  v.push_back(L(LK::RmsNormAdd, l, T, d.h).norm(post_norm).io(B::Xn, B::X));
}

}  // namespace

TEST(CudaStepLaunches, FusedGreedyDecodeOfEveryDenseFixture) {
  int checked = 0;
  for (const Config& d : fixtures()) {
    if (d.gemma || d.moe) continue;  // post-norms and scaled embeddings, routed MLPs: their own paths below
    const graph::ForwardPlan p = plan_of(d);
    expect_launches(plan_step_launches(p, fused_decode_choices(d, 1)), fused_decode(d, 1, false, true, true), d.name + " b=1");
    StepKernelChoices c8 = fused_decode_choices(d, 8);
    c8.prefetch_o = true;
    expect_launches(plan_step_launches(p, c8), fused_decode(d, 8, true, true, true), d.name + " b=8 with o prefetch");
    // The middle step of a three-step graph: embedded by the step before, embeds the step after.
    StepKernelChoices mid = fused_decode_choices(d, 4);
    mid.first_step = false;
    mid.last_step = false;
    expect_launches(plan_step_launches(p, mid), fused_decode(d, 4, false, false, false), d.name + " middle step");
    // Sampling or logits (no greedy): the head GEMV keeps the final norm, without the argmax.
    StepKernelChoices logits = fused_decode_choices(d, 2);
    logits.greedy = false;
    std::vector<KernelLaunch> want = fused_decode(d, 2, false, true, true);
    want.pop_back();
    want.back().epilogue = E::Plain;
    expect_launches(plan_step_launches(p, logits), want, d.name + " logits");
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

TEST(CudaStepLaunches, Gemma3DecodeRunsItsNormsAsKernels) {
  // Post-norms and the embedding scale keep the norms out of the GEMV prologues; the GELU-tanh activation still
  // rides in the gate|up GEMV (bf16 weights) and the decode attention applies RoPE and the q/k norms.
  const Config d = read_config("gemma3");
  const graph::ForwardPlan p = plan_of(d);
  const int64_t T = 8;
  StepKernelChoices c = base_choices(d, T, T);
  c.greedy = true;
  c.gated_in_gemv = true;
  c.fused_decode_attention = true;
  c.layer_weights[1].bf16_gate_up = false;  // layer 1's gate|up in a weight format: no gated epilogue there
  std::vector<KernelLaunch> v{L(LK::Embedding, -1, T, d.h).io(B::None, B::X), L(LK::ScaleEmbeddings, -1, T, d.h).io(B::X, B::X)};
  for (int64_t l = 0; l < d.layers; ++l) {
    v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::AttentionNorm).io(B::X, B::Xn));
    v.push_back(L(LK::Linear, l, T, d.q + 2 * d.kv, d.h).w(W::Qkv).io(B::Xn, B::Qkv));
    v.push_back(L(LK::DecodeAttentionRope, l, T).io(B::Qkv, B::Attn));
    sublayer_out(v, L(LK::Linear, l, T, d.h, d.q).w(W::O).io(B::Attn, B::None), d, l, T, W::PostAttentionNorm);
    v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::MlpNorm).io(B::X, B::Xn));
    if (l == 1) {
      v.push_back(L(LK::Linear, l, T, 2 * d.inter, d.h).w(W::GateUp).io(B::Xn, B::GateUp));
      v.push_back(L(LK::GatedActivation, l, T, d.inter).io(B::GateUp, B::Act).epilogue(E::GeGlu));
    } else {
      v.push_back(L(LK::Gemv, l, T, 2 * d.inter, d.h).w(W::GateUp).io(B::Xn, B::Act).epilogue(E::GeGlu));
    }
    sublayer_out(v, L(LK::Linear, l, T, d.h, d.inter).w(W::Down).io(B::Act, B::None), d, l, T, W::PostMlpNorm);
  }
  v.push_back(L(LK::RmsNorm, -1, T, d.h).norm(W::FinalNorm).io(B::X, B::Xn).logit_rows());
  v.push_back(L(LK::Linear, -1, T, d.vocab, d.h).w(W::Head).io(B::Xn, B::Logits));
  v.push_back(L(LK::ArgmaxRows, -1, T, d.vocab).io(B::Logits, B::None));
  expect_launches(plan_step_launches(p, c), v, "gemma3 b=8");
}

TEST(CudaStepLaunches, TensorCorePrefillOfEveryDenseFixture) {
  // 100 prompt tokens, 3 of them wanting logits: bf16 inputs written by the norms and the activation, RoPE
  // and the KV write before the (flash or paged) attention, the head over the logit rows on the GEMV path.
  int checked = 0;
  for (const Config& d : fixtures()) {
    if (d.moe) continue;
    const graph::ForwardPlan p = plan_of(d);
    const int64_t T = 100, R = 3;
    StepKernelChoices c = base_choices(d, T, R);
    c.decode_only = false;
    c.tensor_cores = true;
    c.bf16_inputs = true;
    std::vector<KernelLaunch> v{L(LK::Embedding, -1, T, d.h).io(B::None, B::X)};
    if (d.gemma) v.push_back(L(LK::ScaleEmbeddings, -1, T, d.h).io(B::X, B::X));
    for (int64_t l = 0; l < d.layers; ++l) {
      v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::AttentionNorm).io(B::X, B::ActBf16).bf16());
      v.push_back(L(LK::MatmulBf16, l, T, d.q + 2 * d.kv, d.h).w(W::Qkv).io(B::ActBf16, B::Qkv));
      v.push_back(L(LK::RopeKvWrite, l, T).io(B::Qkv, B::Qkv));
      v.push_back(L(LK::Attention, l, T).io(B::Qkv, B::Attn));
      sublayer_out(v, L(LK::Linear, l, T, d.h, d.q).w(W::O).io(B::Attn, B::None).tc(), d, l, T, W::PostAttentionNorm);
      v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::MlpNorm).io(B::X, B::ActBf16).bf16());
      v.push_back(L(LK::MatmulBf16, l, T, 2 * d.inter, d.h).w(W::GateUp).io(B::ActBf16, B::GateUp));
      v.push_back(L(LK::GatedActivation, l, T, d.inter).io(B::GateUp, B::ActBf16).bf16().epilogue(gated(d)));
      sublayer_out(v, L(LK::MatmulBf16, l, T, d.h, d.inter).w(W::Down).io(B::ActBf16, B::None), d, l, T, W::PostMlpNorm);
    }
    v.push_back(L(LK::RmsNorm, -1, R, d.h).norm(W::FinalNorm).io(B::X, B::Xn).logit_rows());
    v.push_back(L(LK::Linear, -1, R, d.vocab, d.h).w(W::Head).io(B::Xn, B::Logits));
    expect_launches(plan_step_launches(p, c), v, d.name + " prefill");
    ++checked;
  }
  EXPECT_GE(checked, 7);
}

TEST(CudaStepLaunches, AllMoeDecodeNormsInTheRouterGemv) {
  int checked = 0;
  for (const Config& d : fixtures()) {
    if (!d.moe) continue;
    const graph::ForwardPlan p = plan_of(d);
    const int64_t T = 8;
    StepKernelChoices c = base_choices(d, T, T);
    c.greedy = true;
    c.moe_norm_fused = true;
    c.gated_in_gemv = true;
    c.fused_decode_attention = true;
    std::vector<KernelLaunch> v{L(LK::Embedding, -1, T, d.h).io(B::None, B::X).ss_out(0)};
    for (int64_t l = 0; l < d.layers; ++l) {
      v.push_back(L(LK::Gemv, l, T, d.q + 2 * d.kv, d.h).w(W::Qkv).io(B::X, B::Qkv).prologue(W::AttentionNorm, 2 * l));
      v.push_back(L(LK::DecodeAttentionRope, l, T).io(B::Qkv, B::Attn));
      v.push_back(L(LK::Gemv, l, T, d.h, d.q).w(W::O).io(B::Attn, B::X).acc().epilogue(E::AccumulateSumSq, 2 * l + 1));
      // The router GEMV (n = experts) normalises x itself; the experts' down kernel adds the next norm's sums.
      v.push_back(L(LK::Moe, l, T, d.experts, d.h).io(B::X, B::X).acc().prologue(W::MlpNorm, 2 * l + 1).ss_out(2 * l + 2));
    }
    v.push_back(L(LK::Gemv, -1, T, d.vocab, d.h).w(W::Head).io(B::X, B::Logits).prologue(W::FinalNorm, 2 * d.layers).epilogue(E::ArgMax));
    v.push_back(L(LK::ArgmaxEmbedding, -1, T, d.h).io(B::Logits, B::X));
    expect_launches(plan_step_launches(p, c), v, d.name + " decode");
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(CudaStepLaunches, MoePrefillNormsItsMlpInputInF32) {
  // Routing decisions are sensitive: a MoE layer's MLP norm writes f32 even where the step's other norms write
  // bf16 tensor-core inputs; with split_bf16 (no bf16 inputs) every product takes the dispatcher's kernel.
  for (const Config& d : fixtures()) {
    if (!d.moe) continue;
    const graph::ForwardPlan p = plan_of(d);
    const int64_t T = 40, R = 2;
    for (bool bf16_inputs : {false, true}) {
      StepKernelChoices c = base_choices(d, T, R);
      c.decode_only = false;
      c.tensor_cores = true;
      c.bf16_inputs = bf16_inputs;
      std::vector<KernelLaunch> v{L(LK::Embedding, -1, T, d.h).io(B::None, B::X)};
      for (int64_t l = 0; l < d.layers; ++l) {
        if (bf16_inputs) {
          v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::AttentionNorm).io(B::X, B::ActBf16).bf16());
          v.push_back(L(LK::MatmulBf16, l, T, d.q + 2 * d.kv, d.h).w(W::Qkv).io(B::ActBf16, B::Qkv));
        } else {
          v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::AttentionNorm).io(B::X, B::Xn));
          v.push_back(L(LK::Linear, l, T, d.q + 2 * d.kv, d.h).w(W::Qkv).io(B::Xn, B::Qkv).tc());
        }
        v.push_back(L(LK::RopeKvWrite, l, T).io(B::Qkv, B::Qkv));
        v.push_back(L(LK::Attention, l, T).io(B::Qkv, B::Attn));
        v.push_back(L(LK::Linear, l, T, d.h, d.q).w(W::O).io(B::Attn, B::X).acc().tc());
        v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::MlpNorm).io(B::X, B::Xn));
        v.push_back(L(LK::Moe, l, T, d.experts, d.h).io(B::Xn, B::X).acc());
      }
      v.push_back(L(LK::RmsNorm, -1, R, d.h).norm(W::FinalNorm).io(B::X, B::Xn).logit_rows());
      v.push_back(L(LK::Linear, -1, R, d.vocab, d.h).w(W::Head).io(B::Xn, B::Logits));
      expect_launches(plan_step_launches(p, c), v, d.name + (bf16_inputs ? " bf16 inputs" : " split bf16"));
    }
  }
}

TEST(CudaStepLaunches, QuantizedDecodeNormsInTheQuantizedProduct) {
  // Decode of quantized dense models: the norm before a quantized q|k|v or gate|up (and gate|up's activation)
  // is one launch with its product; a bf16 layer (layer 0 here) keeps the norm kernel and the GEMV's gated
  // epilogue. o and down stay products adding into the residual (gemma3: into xn, then the post-norm).
  int checked = 0;
  for (const Config& d : fixtures()) {
    if (d.moe) continue;
    const graph::ForwardPlan p = plan_of(d);
    const int64_t T = 4;
    StepKernelChoices c = base_choices(d, T, T);
    c.greedy = true;
    c.gated_in_gemv = true;
    c.fused_decode_attention = true;
    c.norm_in_quant_product = true;
    for (size_t l = 1; l < c.layer_weights.size(); ++l) c.layer_weights[l] = {false, false};
    std::vector<KernelLaunch> v{L(LK::Embedding, -1, T, d.h).io(B::None, B::X)};
    if (d.gemma) v.push_back(L(LK::ScaleEmbeddings, -1, T, d.h).io(B::X, B::X));
    for (int64_t l = 0; l < d.layers; ++l) {
      const int64_t qkv = d.q + 2 * d.kv;
      if (l == 0) {
        v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::AttentionNorm).io(B::X, B::Xn));
        v.push_back(L(LK::Linear, l, T, qkv, d.h).w(W::Qkv).io(B::Xn, B::Qkv));
      } else {
        v.push_back(L(LK::NormProduct, l, T, qkv, d.h).w(W::Qkv).io(B::X, B::Qkv).prologue(W::AttentionNorm, -1));
      }
      v.push_back(L(LK::DecodeAttentionRope, l, T).io(B::Qkv, B::Attn));
      sublayer_out(v, L(LK::Linear, l, T, d.h, d.q).w(W::O).io(B::Attn, B::None), d, l, T, W::PostAttentionNorm);
      if (l == 0) {
        v.push_back(L(LK::RmsNorm, l, T, d.h).norm(W::MlpNorm).io(B::X, B::Xn));
        v.push_back(L(LK::Gemv, l, T, 2 * d.inter, d.h).w(W::GateUp).io(B::Xn, B::Act).epilogue(gated(d)));
      } else {
        v.push_back(L(LK::NormProduct, l, T, 2 * d.inter, d.h).w(W::GateUp).io(B::X, B::Act).prologue(W::MlpNorm, -1).epilogue(gated(d)));
      }
      sublayer_out(v, L(LK::Linear, l, T, d.h, d.inter).w(W::Down).io(B::Act, B::None), d, l, T, W::PostMlpNorm);
    }
    v.push_back(L(LK::RmsNorm, -1, T, d.h).norm(W::FinalNorm).io(B::X, B::Xn).logit_rows());
    v.push_back(L(LK::Linear, -1, T, d.vocab, d.h).w(W::Head).io(B::Xn, B::Logits));
    v.push_back(L(LK::ArgmaxRows, -1, T, d.vocab).io(B::Logits, B::None));
    expect_launches(plan_step_launches(p, c), v, d.name + " quantized decode");
    ++checked;
  }
  EXPECT_GE(checked, 7);
}

TEST(CudaStepLaunches, AttentionAblationLeavesOutRopeAndAttention) {
  // qwen3: its q/k norm, RoPE and KV write and attention are all covered, and nothing runs for them.
  const Config d = read_config("qwen3");
  StepKernelChoices c = fused_decode_choices(d, 1);
  c.ablate_attention = true;
  std::vector<KernelLaunch> want = fused_decode(d, 1, false, true, true);
  std::erase_if(want, [](const KernelLaunch& l) { return l.kind == LK::DecodeAttentionRope; });
  expect_launches(plan_step_launches(plan_of(d), c), want, "qwen3 ablated");
  // Without the fused decode attention: the three-kernel path, also ablated.
  c.fused_decode_attention = false;
  expect_launches(plan_step_launches(plan_of(d), c), want, "qwen3 ablated, unfused attention");
}

TEST(CudaStepLaunches, RefusesFusionsTheForwardDoesNotAllow) {
  const Config llama = read_config("llama"), gemma = read_config("gemma3"), mixtral = read_config("mixtral-moe");
  // The dense fused path over routed layers, the router's norm fusion over dense ones.
  EXPECT_THROW(plan_step_launches(plan_of(mixtral), fused_decode_choices(mixtral, 1)), Error);
  StepKernelChoices moe_on_dense = base_choices(llama, 1, 1);
  moe_on_dense.moe_norm_fused = true;
  EXPECT_THROW(plan_step_launches(plan_of(llama), moe_on_dense), Error);
  // Norms in GEMV prologues need the plain residual stream's sums of squares: not gemma3's.
  EXPECT_THROW(plan_step_launches(plan_of(gemma), fused_decode_choices(gemma, 1)), Error);
  // Nor on a tensor-core step.
  StepKernelChoices tc = fused_decode_choices(llama, 100);
  tc.tensor_cores = true;
  EXPECT_THROW(plan_step_launches(plan_of(llama), tc), Error);
  // One gate|up dtype per layer.
  StepKernelChoices short_dtypes = fused_decode_choices(llama, 1);
  short_dtypes.layer_weights.pop_back();
  EXPECT_THROW(plan_step_launches(plan_of(llama), short_dtypes), Error);
  // The bf16 GEMV's norm fusion and the quantized product's together.
  StepKernelChoices both = fused_decode_choices(llama, 1);
  both.norm_in_quant_product = true;
  EXPECT_THROW(plan_step_launches(plan_of(llama), both), Error);
}

TEST(CudaStepLaunches, DescribeNamesLayerKernelShapeAndFusions) {
  const Config d = read_config("llama");
  const auto launches = plan_step_launches(plan_of(d), fused_decode_choices(d, 1));
  ASSERT_GT(launches.size(), 2u);
  const std::string qkv = describe(launches[1]);
  EXPECT_NE(qkv.find("L0 gemv qkv [1x" + std::to_string(d.q + 2 * d.kv) + "x" + std::to_string(d.h) + "]"), std::string::npos) << qkv;
  EXPECT_NE(qkv.find("prologue=rmsnorm"), std::string::npos) << qkv;
  EXPECT_NE(qkv.find("norm=attn_norm"), std::string::npos) << qkv;
  EXPECT_NE(qkv.find("ss_in=0"), std::string::npos) << qkv;
  EXPECT_NE(describe(launches.back()).find("model argmax_embedding"), std::string::npos) << describe(launches.back());
}

}  // namespace synaptix::engine::cuda
