#pragma once
// The CUDA executor's one class (engine/cuda/ only; users go through cuda_executor.h). Its members are
// defined by concern, one file each:
//   cuda_executor.cpp  construction, the public settings, the synchronous step, the factories
//   device_buffers.cpp the device memory of a step: KV cache, activations, MoE and attention scratch
//   step_metadata.cpp  a step's chunks checked and written as metadata (tokens, positions, KV slots, block
//                      tables, flash tiles) into pinned memory, and how it reaches the device
//   forward.cpp        one forward step enqueued, eagerly or as a CUDA graph (graph_cache.h): its kernel
//                      launches planned from the forward walker (engine/cuda_step_launches.h), then executed
//   linear_dispatch.cpp  the plan's kernel for each linear product (GEMV schedules, cuBLASLt algorithms)
//   moe.cpp            the routed-expert MLP
//   device_steps.cpp   greedy, pipelined greedy and sampled steps (token ids chosen on the device)
#include <cuda.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "synaptix/backend/cuda/cublaslt_matmul.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/engine/cuda/device_weights.h"
#include "synaptix/engine/cuda/graph_cache.h"
#include "synaptix/engine/cuda/linear_w8a8.h"
#include "synaptix/engine/cuda/pinned_ints.h"
#include "synaptix/engine/cuda_step_launches.h"
#include "synaptix/graph/forward_plan.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"
#include "synaptix/kernels/embedding/cuda/embedding_cuda.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/kernels/moe/cuda/moe_experts_cuda.h"
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"
#include "synaptix/kernels/rope/reference.h"

namespace synaptix::engine::cuda {

inline constexpr int64_t kMaxSeqsPerStep = 256;
// Decode attention: positions per split block, and the most splits (power of two) a step uses.
inline constexpr int64_t kSplitSize = 64;
inline constexpr int64_t kMaxSplits = 64;
inline constexpr int64_t kMaxSplitTokens = 64;  // steps with more tokens have enough blocks without splitting
// Fused decode: sums of squares of the residual stream, one slot per RMSNorm of the step, kSsStride rows each.
inline constexpr int64_t kSsStride = 8;
// The most greedy decode steps one enqueue (one graph) runs back to back, each fed the previous one's tokens
// on the device (see max_greedy_steps).
inline constexpr int64_t kMaxGraphSteps = 8;

struct StepShape {
  int64_t tokens = 0, logit_rows = 0, seqs = 0, splits = 1, split_size = 0, max_len = 0;
  int64_t steps = 1;  // greedy decode steps run back to back (step s at every chunk's start_pos + s)
  // Entries of each block table the step's attention may read: constant for a graph key (the split shape
  // bounds the context), so a captured metadata copy of that many stays enough on later replays.
  int64_t table_used = 0;
  int64_t flash_tiles = 0;  // query tiles of the tensor-core prefill attention (0: not used this step)
  bool decode_only = true;
};

class CudaExecutorImpl final : public CudaExecutor {
 public:
  CudaExecutorImpl(std::shared_ptr<hw::cuda::Context> ctx, const model::Spec& s, graph::ForwardPlan fwd,
                   DeviceWeights w, KvConfig kv, const CudaExecutorOptions& opt);
  ~CudaExecutorImpl() override;

  const model::Spec& spec() const override { return s_; }
  int64_t num_blocks() const override { return num_blocks_; }
  int64_t block_size() const override { return block_size_; }
  int64_t weight_bytes() const override { return w_.bytes; }

  void step(std::span<const SeqChunk> chunks, std::vector<float>& logits) override;
  void step_greedy(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) override;
  int64_t max_greedy_steps(int64_t seqs) const override;
  void enqueue_greedy(std::span<const SeqChunk> chunks, bool chain_tokens, int64_t steps) override;
  void finish_greedy(std::vector<int32_t>& ids) override;
  bool can_sample() const override;
  void step_sample(std::span<const SeqChunk> chunks, const SamplingParams& p, uint64_t step_index,
                   std::vector<int32_t>& ids) override;

  void set_plan(const CudaKernelPlan& plan) override;
  void set_speed(bool fuse, bool pdl, bool flash_attention, bool weight_prefetch) override;
  void set_ablate_attention(bool on) override;
  std::vector<std::tuple<int64_t, int64_t, int64_t>> linear_shapes(int64_t T, int64_t R) const override;

 private:
  // cuda_executor.cpp
  void validate_spec();
  // Steps long enough for prefill attention on tensor cores (bf16 KV cache only: the f32 cache is the
  // precise mode, whose attention stays in f32).
  bool use_flash(int64_t tokens) const;

  // device_buffers.cpp
  void allocate_buffers();

  // step_metadata.cpp
  void layout_metadata();
  StepShape prepare(std::span<const SeqChunk> chunks, int64_t steps = 1);
  void prepare_following(std::span<const SeqChunk> chunks, int64_t steps, StepShape& sh);
  void upload_meta(const StepShape& sh);
  kernels::cuda::StepMetaCopy step_meta_copy(const StepShape& sh) const;
  // The metadata of the step being enqueued (meta_base_: its place in a multi-step graph).
  CUdeviceptr meta(int64_t off) const { return meta_.ptr() + static_cast<CUdeviceptr>(meta_base_ + off) * 4; }
  // The regions every step of a launch shares, the first step's (block tables and flash tiles: the same
  // chunks; see step_meta_copy).
  CUdeviceptr shared_meta(int64_t off) const { return meta_.ptr() + static_cast<CUdeviceptr>(off) * 4; }

  void clear_graphs() { graphs_.clear(); }

  // forward.cpp
  void run(const StepShape& sh, bool greedy, bool chain_tokens = false);
  void enqueue_forward(const StepShape& sh, bool greedy);
  void enqueue_step(const StepShape& sh, bool greedy, int64_t step);
  // The kernel choices of step `step` of sh.steps, from the plan, the options and the step's shape.
  StepKernelChoices step_choices(const StepShape& sh, bool greedy, int64_t step) const;
  CudaKernelPlan::DecodeAttention decode_attention(int64_t T) const;
  // One planned launch on stream_, with the executor's buffers, weights and step metadata.
  void launch(const KernelLaunch& k, const StepShape& sh, int64_t step);
  CUdeviceptr buffer(Buffer b) const;
  CUdeviceptr weight(const KernelLaunch& k) const;  // k.weight of k.layer (or the model's)
  DType weight_dtype(const KernelLaunch& k) const;
  CUdeviceptr norm_weight(const KernelLaunch& k) const;  // k.norm of k.layer (or the final norm)
  kernels::cuda::RopeKvArgs rope_kv_args(int64_t l, int64_t T) const;
  void prefetch_weights(CUdeviceptr w, int64_t bytes);
  bool head_argmax_fused(int64_t T) const;
  bool decode_fused(int64_t T) const;
  void argmax(int64_t rows);
  void attend(const StepShape& sh, int64_t l, const kernels::cuda::RopeKvArgs& ra);
  kernels::cuda::PagedAttentionArgs paged_args(const StepShape& sh, int64_t l,
                                               const kernels::cuda::RopeKvArgs& ra) const;
  CUdeviceptr ss(int64_t slot) const { return ss_.ptr() + static_cast<CUdeviceptr>(slot * kSsStride) * 4; }

  // linear_dispatch.cpp. wdt: the weights' dtype (BF16, or a weight format: DeviceLayer's *_dtype).
  void linear(bool tc, CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
              DType wdt = DType::BF16);
  void matmul_bf16(CUdeviceptr xb, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
                   DType wdt = DType::BF16);
  // A quantized matrix expanded to bf16 into wscratch_ (returned), for a tensor-core product.
  CUdeviceptr expand_weights(CUdeviceptr w, DType wdt, int64_t n, int64_t k);
  // The tensor-core product of a quantized matrix (linear_dispatch.cpp); false when it does not take the step.
  bool quant_mma(CUdeviceptr x, bool x_bf16, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
                 DType wdt, bool any_rows);
  void gemv(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
            const kernels::cuda::GemvFusion& f);

  // linear_w8a8.cpp (opt_.fp8_activations): the requirements checked and w8a8_ built at construction; the
  // W8A8 FP8 product of an fp8-e4m3-pc matrix, false (nothing run) when it does not take the product.
  void setup_w8a8();
  bool linear_w8a8(CUdeviceptr x, bool x_bf16, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
                   DType wdt);

  // moe.cpp
  bool moe_on_device(int64_t T) const;
  void moe(const DeviceLayer& L, int64_t T, CUdeviceptr ss_out, CUdeviceptr norm_ss = 0);

  // device_steps.cpp
  void require_idle(const char* what) const;

  using DeviceBuffer = backend::cuda::DeviceBuffer;

  std::shared_ptr<hw::cuda::Context> ctx_;
  model::Spec s_;
  graph::ForwardPlan fwd_;  // what each layer computes (graph/forward_plan.h); plan_ is the kernel plan
  DeviceWeights w_;
  CudaExecutorOptions opt_;
  CudaKernelPlan plan_;
  int64_t block_size_ = 16, num_blocks_ = 0, table_stride_ = 0, inter_max_ = 0;
  CUstream stream_ = nullptr;
  CUstream side_ = nullptr;  // weight prefetches beside the main chain
  CUevent fork_ev_ = nullptr, join_ev_ = nullptr;
  int sm_count_ = 1;
  bool side_used_ = false;
  std::unique_ptr<backend::cuda::BlasLtMatmul> blas_;
  std::unique_ptr<W8A8Linear> w8a8_;  // with opt_.fp8_activations
  std::vector<DeviceBuffer> k_cache_, v_cache_;
  DeviceBuffer x_, xn_, qkv_, attn_, gu_, act_, actb_, logits_, ids_, partial_, meta_, inv_freq_;
  DeviceBuffer wscratch_;  // bf16 expansion of the largest quantized matrix (tensor-core steps of a quantized model)
  DeviceBuffer inv_freq_sliding_;  // the sliding-window layers' own RoPE frequencies (gemma3), else empty
  DeviceBuffer attn_counters_;  // the fused decode attention's split counters (zero between launches)
  DeviceBuffer moe_out_, router_, moe_idx_, moe_w_, actlo_, ss_, argmax_scratch_;
  DeviceBuffer argmax_words_;  // the head GEMV's argmax keys for kSsStride rows (zero between steps)
  DeviceBuffer moe_act_;                // f32 [pairs, inter]: the grouped experts' SwiGLU outputs
  DeviceBuffer moe_down_scratch_, moe_down_counters_;  // the spread down kernel's per-pair rows and counters
  DeviceBuffer moe_route_ids_, moe_route_w_, moe_counts_;  // prefill-sized steps: routing, per-expert counts
  std::vector<DeviceBuffer> moe_ptrs_;  // per layer: u64 [2 experts] expert weight base pointers
  int64_t moe_device_tokens_ = kernels::cuda::kMoeExpertsMaxTokens;  // MoE steps up to this size route on the device
  bool all_layers_moe_ = false;  // every layer's MLP is a routed MoE block (see moe_norm_fused)
  // Two pinned metadata buffers and id downloads: a pipelined step is prepared while the previous one's
  // copies may still be pending.
  std::unique_ptr<PinnedInts> meta_host_[2], ids_host_[2];
  CUevent ids_ev_[2] = {nullptr, nullptr};
  int meta_cur_ = 0;
  struct InFlight {
    int slot;
    int64_t rows;
  };
  std::deque<InFlight> in_flight_;
  int64_t last_ids_rows_ = 0;  // rows of ids_ the last greedy or sampled step wrote
  int64_t o_pos_ = 0, o_slot_ = 0, o_seq_ = 0, o_rows_ = 0, o_tab_ = 0, o_tiles_ = 0;
  int64_t step_stride_ = 0;  // ints between the metadata of consecutive steps of a multi-step graph
  int64_t meta_base_ = 0;    // where the metadata of the step being enqueued starts (see meta())
  kernels::RopeTable rope_, sliding_rope_;
  GraphCache graphs_;
  bool chain_tokens_ = false;  // the step being enqueued reads its token ids from ids_
  StepKernelChoices planned_for_;        // the choices of the last planned step,
  std::vector<KernelLaunch> planned_;    // and its launches
};

}  // namespace synaptix::engine::cuda
