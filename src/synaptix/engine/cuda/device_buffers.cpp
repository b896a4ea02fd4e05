// The device memory a step works in, allocated once at construction for the largest step the options allow
// (max_tokens_per_step, max_logit_rows): the paged KV cache, the f32 activations and their bf16 copies, the
// logits and ids, the attention's split partials and counters, the fused decode's sums of squares, and the
// MoE layers' routing and expert scratch.
#include <algorithm>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor_impl.h"
#include "synaptix/kernels/attention/cuda/kv_int8_layout.h"
#include "synaptix/kernels/sampling/cuda/argmax_cuda.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;
using hw::cuda::check;

void CudaExecutorImpl::allocate_buffers() {
  // The KV cache: f32, or the narrow format (bf16, fp8-e4m3 codes at one byte an element, or int8 codes with
  // an f32 scale per token and KV head after each block's codes: kv_int8_layout.h), the bytes
  // kernels::kv_bytes_per_token_layer counts, so a budget in bytes admits ~2x bf16's sequences.
  const kernels::KvFormat kv = opt_.kv_f32 ? kernels::KvFormat::F32 : opt_.narrow_kv;
  if (kv == kernels::KvFormat::Int8 && !kc::kv_int8_block_size_ok(block_size_))
    fail("CUDA executor: an int8 KV cache needs a block size that is a multiple of 4 (its rows and scales stay aligned "
         "for vector loads), got ", block_size_);
  const size_t kv_bytes = static_cast<size_t>(num_blocks_ * block_size_ *
                                              kernels::kv_bytes_per_token_layer(kv, s_.num_kv_heads, s_.head_dim) / 2);
  for (int64_t l = 0; l < s_.num_layers; ++l) {
    k_cache_.emplace_back(kv_bytes);
    v_cache_.emplace_back(kv_bytes);
  }
  const int64_t Tm = opt_.max_tokens_per_step, h = s_.hidden_size;
  int64_t inter = 0;
  for (const auto& L : w_.layers) inter = std::max(inter, L.inter);
  inter_max_ = inter;
  const int64_t qkv_n = s_.q_dim() + 2 * s_.kv_dim();
  const int64_t act_n = std::max({inter, s_.q_dim(), h});
  x_ = DeviceBuffer(static_cast<size_t>(Tm * h) * 4);
  xn_ = DeviceBuffer(static_cast<size_t>(Tm * h) * 4);
  qkv_ = DeviceBuffer(static_cast<size_t>(Tm * qkv_n) * 4);
  attn_ = DeviceBuffer(static_cast<size_t>(Tm * s_.q_dim()) * 4);
  gu_ = DeviceBuffer(static_cast<size_t>(Tm * 2 * inter) * 4);
  act_ = DeviceBuffer(static_cast<size_t>(Tm * act_n) * 4);
  actb_ = DeviceBuffer(static_cast<size_t>(Tm * act_n) * 2);
  if (opt_.split_bf16) actlo_ = DeviceBuffer(static_cast<size_t>(Tm * act_n) * 2);
  logits_ = DeviceBuffer(static_cast<size_t>(opt_.max_logit_rows * s_.vocab_size) * 4);
  ids_ = DeviceBuffer(static_cast<size_t>(opt_.max_logit_rows) * 4);
  argmax_scratch_ = DeviceBuffer(static_cast<size_t>(kc::argmax_scratch_bytes(opt_.max_logit_rows)));
  argmax_scratch_.fill_bytes(0);
  argmax_words_ = DeviceBuffer(static_cast<size_t>(kc::gemv_argmax_words_bytes(kSsStride)));
  argmax_words_.fill_bytes(0);
  partial_ = DeviceBuffer(static_cast<size_t>(kMaxSplitTokens * s_.num_heads * kMaxSplits * (s_.head_dim + 2)) * 4);
  attn_counters_ = DeviceBuffer(static_cast<size_t>(kMaxSplitTokens * s_.num_kv_heads) * 4);
  check(cuMemsetD32(attn_counters_.ptr(), 0, static_cast<size_t>(kMaxSplitTokens * s_.num_kv_heads)), "cuMemsetD32");
  ss_ = DeviceBuffer(static_cast<size_t>((2 * s_.num_layers + 1) * kSsStride) * 4);
  if (w_.quantized) wscratch_ = DeviceBuffer(static_cast<size_t>(w_.max_quantized_elems) * 2);
  if (!s_.is_moe()) return;
  moe_out_ = DeviceBuffer(static_cast<size_t>(Tm * h) * 4);
  router_ = DeviceBuffer(static_cast<size_t>(Tm * s_.num_experts) * 4);
  moe_idx_ = DeviceBuffer(static_cast<size_t>(Tm * s_.num_experts_per_tok) * 4);
  moe_w_ = DeviceBuffer(static_cast<size_t>(Tm * s_.num_experts_per_tok) * 4);
  // Decode-sized steps: the grouped expert kernels find each routed expert's weights through a device
  // array of base pointers per layer (gate_up pointers, then down pointers), written once here.
  moe_act_ = DeviceBuffer(static_cast<size_t>(kc::kMoeExpertsMaxPairs * std::max<int64_t>(inter, 1)) * 4);
  moe_down_scratch_ = DeviceBuffer(static_cast<size_t>(kc::kMoeExpertsMaxPairs * h) * 4);
  moe_down_counters_ = DeviceBuffer(static_cast<size_t>(kc::moe_down_counters(h)) * 4);
  check(cuMemsetD32(moe_down_counters_.ptr(), 0, static_cast<size_t>(kc::moe_down_counters(h))), "cuMemsetD32");
  for (const auto& L : w_.layers) {
    std::vector<uint64_t> ptrs;
    for (const auto& e : L.expert_gate_up) ptrs.push_back(e.ptr());
    for (const auto& e : L.expert_down) ptrs.push_back(e.ptr());
    moe_ptrs_.emplace_back(std::max<size_t>(ptrs.size(), 1) * 8);
    if (!ptrs.empty()) moe_ptrs_.back().upload(ptrs.data(), ptrs.size() * 8);
  }
  // Larger steps: moe_route's ids and weights, grouped by expert (moe_sort) into moe_idx_ / moe_w_.
  moe_route_ids_ = DeviceBuffer(static_cast<size_t>(Tm * s_.num_experts_per_tok) * 4);
  moe_route_w_ = DeviceBuffer(static_cast<size_t>(Tm * s_.num_experts_per_tok) * 4);
  moe_counts_ = DeviceBuffer(static_cast<size_t>(s_.num_experts) * 4);
  all_layers_moe_ = std::all_of(w_.layers.begin(), w_.layers.end(), [](const auto& L) { return L.router.bytes() > 0; });
  // The largest step (tokens) every MoE layer's shape fits the grouped kernels for (0: none).
  while (moe_device_tokens_ > 0) {
    bool fits = true;
    for (const auto& L : w_.layers)
      if (L.router.bytes())
        fits = fits && kc::moe_experts_supports(moe_device_tokens_, s_.num_experts_per_tok, h, L.inter);
    if (fits) break;
    --moe_device_tokens_;
  }
}

}  // namespace synaptix::engine::cuda
