#pragma once
// The CUDA executor's kernel launches for one forward step, planned by walking the forward plan
// (graph/forward_walk.h) with the step's kernel choices: which kernel runs each op, which neighbouring ops a
// fused kernel covers, in which order, over which buffers, shapes and sums-of-squares slots. A pure function
// with no CUDA types, so the launch sequence is tested on any machine (tests/engine/cuda_step_launches_test.cpp);
// engine/cuda/forward.cpp executes the list. (It sits outside engine/cuda/, whose files link the CUDA driver.)
//
// Each fusion is handled at the first op it covers; the walker's ops it covers are skipped:
//   attention norm + q|k|v product      GEMV with an RMSNorm prologue (norm_in_gemv)
//   q/k norm + RoPE and KV write        the RoPE kernel applies the q/k norms (and the q|k|v bias)
//   RoPE and KV write + attention       the fused decode attention (fused_decode_attention)
//   MLP norm + gate|up + activation     GEMV with an RMSNorm prologue and a gated epilogue (dense_fused)
//   gate|up + activation                GEMV with the gated epilogue (gated_in_gemv, bf16 gate|up)
//   MLP norm + router + experts         the router GEMV's RMSNorm prologue, then the experts (moe_norm_fused)
//   router + experts                    one MoE launch (engine/cuda/moe.cpp)
//   final norm + LM head (+ argmax)     GEMV with an RMSNorm prologue and an argmax epilogue (norm_in_gemv decode)
//   norm + quantized q|k|v or gate|up (+ activation)   the quantized tensor-core product's prologue (and
//                                       epilogue) where it takes the step, else the kernels apart (norm_in_quant_product)
// Residual adds ride in the products that write x (accumulate); with a post-norm the product writes xn and
// the post-norm kernel adds rmsnorm(xn) into x.
#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/graph/forward_plan.h"

namespace synaptix::engine::cuda {

// Per layer: which of its fused products hold bf16 weights (else a weight format: quant/weight_format.h).
struct LayerWeightKinds {
  bool bf16_qkv = true;
  bool bf16_gate_up = true;
  bool operator==(const LayerWeightKinds&) const = default;
};

// What the executor chose for this step, from its kernel plan, its options and the step's shape
// (CudaExecutorImpl::step_choices).
struct StepKernelChoices {
  int64_t tokens = 0, logit_rows = 0;
  bool first_step = true;              // false: the previous step's argmax embedded this step's tokens
  bool last_step = true;               // false: this step's argmax also embeds the next step's tokens
  bool greedy = false;                 // token ids chosen on the device after the head
  bool decode_only = true;             // every row is one sequence's next token (logit row i is token i)
  bool tensor_cores = false;           // more rows than the GEMV path takes: tensor-core products
  bool bf16_inputs = false;            // tensor-core step whose norms and activation write bf16 product inputs
  // The fused decode path: the residual's writers (embedding, o, down or experts) accumulate its sums of
  // squares, and the norms run in GEMV prologues (attention norm: q|k|v's; final norm: the head's). A dense
  // model's MLP norm and activation ride in the gate|up GEMV (dense_fused), an all-MoE model's MLP norm in the
  // router's (moe_norm_fused). At most one of the two; either is norm_in_gemv().
  bool dense_fused = false;
  bool moe_norm_fused = false;
  bool gated_in_gemv = false;          // GEMV-path gate|up products of bf16 weights apply the activation
  bool prefetch_o = false;             // pull each layer's o weights into L2 after its q|k|v product
  bool ablate_attention = false;       // the benchmark's ablation: no RoPE, KV write or attention
  bool fused_decode_attention = false; // RoPE, KV write and attention in one decode kernel
  bool tensor_core_head = false;       // the LM head over more rows than the GEMV path takes
  // GEMV-path steps: a quantized q|k|v or gate|up product takes its norm (and gate|up its activation) in the
  // quantized tensor-core product where that takes the step (engine/cuda/quant_decode_fusion.h).
  bool norm_in_quant_product = false;
  std::vector<LayerWeightKinds> layer_weights;  // one per layer

  bool norm_in_gemv() const { return dense_fused || moe_norm_fused; }
  bool operator==(const StepKernelChoices&) const = default;
};

enum class LaunchKind {
  Embedding,            // token rows of the embedding table into x (sums of squares into slot 0 with ss_out 0)
  ScaleEmbeddings,      // x *= plan.embedding_scale
  RmsNorm,              // out = rmsnorm(x) * norm, m rows (the step's logit rows with logit_rows)
  RmsNormAdd,           // x += rmsnorm(xn) * norm (a post-norm before the residual add)
  Gemv,                 // a product on the GEMV kernel with its prologue and epilogue
  Linear,               // a product on the plan's kernel for its shape (linear_dispatch.cpp)
  MatmulBf16,           // a tensor-core product of bf16 inputs
  NormProduct,          // out = rmsnorm(x) * norm times a quantized matrix (with a gated epilogue: act of it),
                        // in one kernel where the quantized product takes it, else norm, product, activation
  PrefetchWeights,      // the layer's `weight` into L2 beside the main stream
  RopeKvWrite,          // RoPE (with q/k norms and q|k|v bias) on q and k, k and v into the KV cache
  DecodeAttentionRope,  // RopeKvWrite and the decode attention in one kernel
  Attention,            // flash tiles or the paged kernel, as the step's shape has them
  GatedActivation,      // out = act(gate) * up over the interleaved gate|up rows in `in`
  Moe,                  // the router and the routed experts, adding into x
  ArgmaxRows,           // token ids of the logit rows
  ArgmaxEmbedding,      // finishes the head GEMV's argmax (embeds the next step's tokens with embeds_next)
};

// A product's matrix, or a norm's scale.
enum class Weight { None, AttentionNorm, MlpNorm, PostAttentionNorm, PostMlpNorm, FinalNorm, Qkv, O, GateUp, Down, Head };
// The step's activation buffers.
enum class Buffer { None, X, Xn, Qkv, Attn, GateUp, Act, ActBf16, Logits };
enum class GemvPrologue { Plain, RmsNorm };
enum class GemvEpilogue { Plain, AccumulateSumSq, SwiGlu, GeGlu, ArgMax };

struct KernelLaunch {
  LaunchKind kind = LaunchKind::Embedding;
  int64_t layer = -1;                 // -1: a model-level launch
  int64_t m = 0, n = 0, k = 0;        // products: m rows of n outputs over k; other kernels: m rows (of n:
                                      // the hidden width, the activation's inter or the head's vocab)
  Weight weight = Weight::None;       // the product's matrix (PrefetchWeights: the prefetched one)
  Weight norm = Weight::None;         // RmsNorm, RmsNormAdd and the GEMV's RMSNorm prologue: the scale
  Buffer in = Buffer::None, out = Buffer::None;
  bool accumulate = false;            // the product adds into out (the residual)
  bool tensor_cores = false;          // Linear: over more rows than the GEMV path takes
  bool bf16_out = false;              // RmsNorm, GatedActivation: out holds bf16 inputs of a tensor-core product
  bool logit_rows = false;            // RmsNorm over the step's logit rows
  bool embeds_next = false;           // ArgmaxEmbedding
  GemvPrologue prologue = GemvPrologue::Plain;
  GemvEpilogue epilogue = GemvEpilogue::Plain;  // GatedActivation: SwiGlu or GeGlu
  int64_t ss_in = -1;                 // sums-of-squares slot the RMSNorm prologue reads (-1: none)
  int64_t ss_out = -1;                // sums-of-squares slot the launch accumulates into (-1: none)

  bool operator==(const KernelLaunch&) const = default;
};

// The step's launches in order, from graph::walk_forward(plan, tokens, logit_rows, fused projections).
// Throws synaptix::Error (internal) when the choices ask for a fusion the plan's op sequence does not allow.
std::vector<KernelLaunch> plan_step_launches(const graph::ForwardPlan& plan, const StepKernelChoices& c);

// One line naming the launch, its layer, shape, buffers and fusions (tests and debugging).
std::string describe(const KernelLaunch& l);

}  // namespace synaptix::engine::cuda
