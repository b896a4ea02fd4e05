#pragma once
// The CUDA executor: weights uploaded once (bf16, or a quantized model's projections packed in their weight format), activations f32 in a fixed device pool, paged KV cache
// on the device (f32 or bf16, see CudaExecutorOptions). Steps of at most `gemv_max_rows` tokens run the weight-streaming GEMV path (f32
// activations, the decode path); larger steps convert activations to bf16 and run cuBLASLt tensor-core GEMMs
// (the prefill path). Decode-only steps are captured as CUDA graphs (one per batch size and attention split
// count, and pinned metadata slot) and replayed, so a decode step costs one graph launch: its first kernel
// reads the step's metadata from mapped pinned memory and its argmax writes the ids there.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <tuple>
#include <vector>

#include "synaptix/core/dtype.h"
#include "synaptix/engine/executor.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/kernels/linear/cuda/quant_gemv_cuda.h"

namespace synaptix::model { struct Model; }

namespace synaptix::engine {

struct CudaExecutorOptions {
  int64_t max_tokens_per_step = 4096;
  int64_t max_logit_rows = 256;
  int gemv_max_rows = 8;  // steps with more tokens (or logit rows) use cuBLASLt
  bool use_graphs = true;
  // Precision. The defaults keep the logits within ~1e-3 of an f32 reference (what `verify` checks on the
  // fixtures, whose random weights give near-tied logits): an f32 KV cache, and tensor-core GEMMs fed the
  // activations as a bf16 hi + lo pair (two products). The fast settings (bf16 KV, one bf16 product) are
  // what bf16 inference frameworks do; the benchmark reports which it ran.
  bool kv_f32 = true;
  bool split_bf16 = true;
  // The KV cache's format when kv_f32 is false: bf16, fp8-e4m3 (unscaled E4M3, kernels/attention/
  // kv_format.h: half bf16's bytes, so twice the sequences fit) or int8 (the CPU's codes and per-row scales,
  // block_size % 4 == 0).
  kernels::KvFormat narrow_kv = kernels::KvFormat::Bf16;
  // Speed. fuse: decode steps of dense models (<= 8 tokens) run RMSNorm in the GEMV prologue (its sum of
  // squares accumulated by the GEMV that updates the residual stream), SwiGLU in the gate/up GEMV's
  // epilogue: 4 GEMVs + RoPE + attention per layer. pdl: every kernel is launched with programmatic
  // dependent launch, so each starts (and prefetches its weights) while its predecessor drains.
  // flash_attention: prefill chunks with a bf16 KV cache use the tensor-core flash-attention kernel.
  bool fuse = true;
  bool pdl = true;
  bool flash_attention = true;
  bool weight_prefetch = true;  // allow the plan's o_prefetch (o_proj's weights into L2 beside attention)
  // Benchmark ablation only: leave RoPE and attention out of decode steps (wrong outputs) to measure their
  // share of a step.
  bool ablate_attention = false;
  int64_t flash_min_tokens = 65;  // smaller steps keep the CUDA-core attention (decode-sized work)
  // Quantized projections (a weight format, quant/weight_format.h): products of up to this many rows run the
  // format's GEMV (dequantized in registers, 8 rows of x per call, so the weights are read ceil(m / 8) times);
  // larger ones expand the matrix to bf16 in a scratch buffer and run cuBLASLt. Steps whose products take
  // bf16 inputs (split_bf16 off, more than gemv_max_rows tokens) expand whatever quant_gemv_max_rows says: the
  // same results, another path. Decode steps of a quantized model run RMSNorm and the gated activation as
  // their own kernels (the fused prologues are bf16-only).
  int quant_gemv_max_rows = 8;
  // The quantized GEMV's schedule per rows of x in a call (1..8); absent: kernels::cuda::quant_gemv_default_params.
  std::map<int, kernels::cuda::QuantGemvParams> quant_gemv_schedule;
  // Products of up to this many rows (at most kernels::cuda::kQuantMmaMaxRows; 0: never) of a quantized model
  // run the tensor-core product (kernels/linear/cuda/quant_mma.cu, weights decoded in registers, the weights
  // read once per 64 rows) instead of the GEMV or the expansion above; larger ones as above.
  int quant_mma_max_rows = kernels::cuda::kQuantMmaMaxRows;
  // Its schedule per tiles of 8 tokens in a call (1..8); absent: kernels::cuda::quant_mma_default_params.
  std::map<int, kernels::cuda::QuantMmaParams> quant_mma_schedule;
  // W8A8 FP8, a precision (the recipe's "activations": "fp8", the quality gate's choice): products of
  // fp8-e4m3-pc matrices that would expand the weights to bf16 (more than quant_mma_max_rows rows) quantize x per
  // token to E4M3 and run cuBLASLt's FP8 GEMM instead (engine/cuda/linear_w8a8.h). Refused at construction
  // unless every projection is fp8-e4m3-pc and the device has FP8 tensor cores (engine/fp8_activations.h).
  bool fp8_activations = false;
  // With it: each matrix's codes rewritten row-major once at construction (one byte per weight more) instead
  // of per product into scratch.
  bool fp8_resident_codes = false;
};

// The GEMV schedule and cuBLASLt algorithm per (m, n, k) shape; what the tuner writes and the executor
// reads. Shapes not listed use the defaults.
struct CudaKernelPlan {
  std::map<std::tuple<int64_t, int64_t, int64_t>, kernels::cuda::GemvParams> gemv;
  std::map<std::tuple<int64_t, int64_t, int64_t>, int> blaslt_algorithm;
  // Per decode step size (tokens): whether RMSNorm runs in the GEMV prologues (else as its own kernel;
  // SwiGLU stays in the gate/up epilogue either way); absent: fused (when enabled).
  std::map<int64_t, bool> fuse_decode;
  // Per decode step size: positions per split of the decode attention (absent: 64). Larger splits mean
  // fewer partial results and no combine kernel at short contexts, smaller ones more blocks in flight.
  std::map<int64_t, int64_t> attention_split;
  // Per decode step size on the GEMV path: whether o_proj's weights are pulled into L2 on a side stream
  // while RoPE and attention run (absent: no; on an H100 it did not pay, see bench/gpu/NOTES.md).
  std::map<int64_t, bool> o_prefetch;
  // Per decode step size (one token per sequence): RoPE, the KV write, the decode attention and its split
  // combine as one kernel with this many warps per block and keys per warp, or (warps 0) as three kernels.
  // Absent: the default below for steps on the GEMV path, three kernels for larger ones.
  struct DecodeAttention {
    int warps = 16;  // the H100's in-context choice (Llama-3.1-8B shape, batch 1)
    int keys_per_warp = 4;
    // The split blocks of a (token, KV head) as one cluster combining through distributed shared memory
    // (2..16 splits; other split counts take the counter path).
    bool cluster = false;
    // The token's heads in registers (no shared-memory staging) where the shapes allow.
    bool reg_heads = true;
    bool operator==(const DecodeAttention&) const = default;
  };
  std::map<int64_t, DecodeAttention> decode_attention;
  // Per decode step size of a MoE model: the grouped down projection spread over (row block, expert) blocks
  // (absent: yes) or one block per row block walking every routed expert.
  std::map<int64_t, bool> moe_down_spread;
};

class CudaExecutor : public Executor, public GreedyStep, public SampleStep, public PipelinedGreedyStep {
 public:
  ~CudaExecutor() override = default;
  void step_argmax(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) override { step_greedy(chunks, ids); }
  // Like step(), but leaves the logits on the device and returns the greedy token of each logits row.
  virtual void step_greedy(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) = 0;
  // Replaces the kernel plan; captured graphs are dropped and re-captured on use.
  virtual void set_plan(const CudaKernelPlan& plan) = 0;
  // Switches the speed options (CudaExecutorOptions::fuse, pdl, flash_attention, weight_prefetch); graphs
  // are re-captured.
  virtual void set_speed(bool fuse, bool pdl, bool flash_attention, bool weight_prefetch) = 0;
  // Benchmark ablation (CudaExecutorOptions::ablate_attention): decode steps without RoPE and attention;
  // their outputs are wrong. Graphs are re-captured.
  virtual void set_ablate_attention(bool on) = 0;
  // The distinct linear shapes (m, n, k) a step of `tokens` tokens and `logit_rows` logits rows runs.
  virtual std::vector<std::tuple<int64_t, int64_t, int64_t>> linear_shapes(int64_t tokens, int64_t logit_rows) const = 0;
  virtual int64_t weight_bytes() const = 0;
};

// Uploads the model's weights to `device`. Throws synaptix::Error for a model the CUDA path cannot run
// (dimensions not multiples of 8, head groups too large, quantized MoE experts, q/k/v or gate/up in different
// formats), naming what was wrong. Projections in a weight format (a quantization recipe applied at load) stay
// packed on the device and run the format's kernels.
std::unique_ptr<Executor> make_cuda_executor(const model::Model& m, KvConfig kv, int device);
std::unique_ptr<CudaExecutor> make_cuda_executor(const model::Model& m, KvConfig kv, int device,
                                                 const CudaExecutorOptions& opt);
// A model of the given Spec with random device weights (deterministic in seed): benchmarks of full-size
// shapes without their files. With `weights` a weight format the projections are quantized to it on the host
// by the CPU's round-to-nearest quantizer (engine/cuda/device_weights.h); dense models only.
std::unique_ptr<CudaExecutor> make_cuda_executor_random(const model::Spec& s, uint64_t seed, KvConfig kv,
                                                        int device, const CudaExecutorOptions& opt,
                                                        DType weights = DType::BF16);

}  // namespace synaptix::engine
