// One forward step enqueued on the executor's stream: eagerly, or through the graph cache for decode steps;
// the embedding, each layer's norm, QKV projection, RoPE and KV write, attention, output projection and MLP
// (dense or MoE, see moe.cpp), the final norm, the LM head and the greedy argmax. Which kernel runs each
// linear product is linear_dispatch.cpp's business; where the step's metadata lies, step_metadata.cpp's.
#include "synaptix/backend/cuda/launch/argmax.h"
#include "synaptix/backend/cuda/launch/embedding.h"
#include "synaptix/backend/cuda/launch/flash_attention.h"
#include "synaptix/backend/cuda/launch/paged_attention.h"
#include "synaptix/backend/cuda/launch/rmsnorm.h"
#include "synaptix/backend/cuda/launch/rope_kv.h"
#include "synaptix/backend/cuda/launch/swiglu.h"
#include "synaptix/backend/cuda/launch/weight_prefetch.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor_impl.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;
using hw::cuda::check;

// With chain_tokens the step's token ids are the ids the previous greedy step left in ids_ (one per row,
// the same sequences in the same order), read there by the embedding kernel.
void CudaExecutorImpl::run(const StepShape& sh, bool greedy, bool chain_tokens) {
  upload_meta(sh);
  chain_tokens_ = chain_tokens;
  // MoE steps qualify when their routing stays on the device (no host round trip inside the capture).
  const bool graphable = opt_.use_graphs && sh.decode_only && (!s_.is_moe() || moe_on_device(sh.tokens));
  if (!graphable) {
    enqueue_forward(sh, greedy);
    return;
  }
  // A graph reads its metadata from, and writes its ids to, one of the two pinned slots.
  const GraphCache::Key key{sh.tokens, sh.splits, sh.split_size, greedy, meta_cur_, chain_tokens, sh.steps};
  graphs_.run(key, stream_, [&] { enqueue_forward(sh, greedy); });
}

// The step's kernels on stream_; weight prefetches forked onto side_ are joined back at the end (a captured
// graph must rejoin every stream it forked).
void CudaExecutorImpl::enqueue_forward(const StepShape& sh, bool greedy) {
  side_used_ = false;
  for (int64_t st = 0; st < sh.steps; ++st) {
    meta_base_ = st * step_stride_;
    try {
      enqueue_step(sh, greedy, st);
    } catch (...) {
      meta_base_ = 0;
      throw;
    }
  }
  meta_base_ = 0;
  if (side_used_) {
    check(cuEventRecord(join_ev_, side_), "cuEventRecord");
    check(cuStreamWaitEvent(stream_, join_ev_, 0), "cuStreamWaitEvent");
  }
}

// Starts pulling `bytes` at `w` into L2 on the side stream once everything enqueued on stream_ so far is done.
void CudaExecutorImpl::prefetch_weights(CUdeviceptr w, int64_t bytes) {
  check(cuEventRecord(fork_ev_, stream_), "cuEventRecord");
  check(cuStreamWaitEvent(side_, fork_ev_, 0), "cuStreamWaitEvent");
  kc::weight_prefetch(w, bytes, 2 * sm_count_, side_);
  side_used_ = true;
}

// Whether a decode step of T tokens runs its final RMSNorm in the LM head GEMV's prologue (the fused decode
// path), where the greedy argmax rides in that GEMV's epilogue (argmax_embedding finishes it).
bool CudaExecutorImpl::head_argmax_fused(int64_t T) const {
  return decode_fused(T) && (!s_.is_moe() || (all_layers_moe_ && moe_on_device(T)));
}

// Whether a step of T tokens on the GEMV path fuses its RMSNorms into GEMV prologues (the plan's choice).
// Those norms read sums of squares that the residual's writers (the embedding, o_proj and down GEMVs)
// accumulate, so a forward whose sublayer outputs are normed before the residual add, or whose embeddings are
// scaled after the lookup (gemma3), or whose projections are quantized (the fused prologues are bf16 GEMVs),
// runs its norms as kernels.
bool CudaExecutorImpl::decode_fused(int64_t T) const {
  const auto fuse_it = plan_.fuse_decode.find(T);
  return opt_.fuse && (fuse_it == plan_.fuse_decode.end() || fuse_it->second) && T <= opt_.gemv_max_rows &&
         T <= kSsStride && !fwd_.has_post_norms() && fwd_.embedding_scale == 1.0 && !w_.quantized;
}

void CudaExecutorImpl::gated_activation(const graph::MlpStep& mlp, CUdeviceptr out, int64_t T, int64_t inter,
                                        bool out_bf16) {
  if (mlp.activation == model::Activation::GeluTanh) kc::geglu_tanh(gu_.ptr(), out, T, inter, out_bf16, stream_);
  else kc::swiglu(gu_.ptr(), out, T, inter, out_bf16, stream_);
}

// After a sublayer's product went where sublayer_out said: with a post-norm, x_ += rmsnorm(xn_) * norm.
void CudaExecutorImpl::finish_sublayer(bool post_norm, const backend::cuda::DeviceBuffer& norm, int64_t T) {
  if (post_norm)
    kc::rmsnorm_add(xn_.ptr(), norm.ptr(), x_.ptr(), T, s_.hidden_size, static_cast<float>(fwd_.rms_norm_eps), stream_);
}

// Step `step` of sh.steps (> 0: its tokens are the previous step's, embedded by that step's last kernel).
void CudaExecutorImpl::enqueue_step(const StepShape& sh, bool greedy, int64_t step) {
  const int64_t T = sh.tokens, R = sh.logit_rows, h = s_.hidden_size, H = s_.num_heads, KVH = s_.num_kv_heads,
                D = s_.head_dim, qd = s_.q_dim(), qkv_n = qd + 2 * s_.kv_dim();
  const bool tc = T > opt_.gemv_max_rows;
  const float eps = static_cast<float>(s_.rms_norm_eps);
  const bool fuse_step = decode_fused(T);
  const bool fused = fuse_step && !s_.is_moe();
  // MoE models whose every layer is MoE, on the device-routed path: the attention's RMSNorm runs in the qkv
  // GEMV's prologue (and the final one in the head's), from sums of squares the expert down kernel adds.
  const bool moe_norm_fused = fuse_step && all_layers_moe_ && moe_on_device(T);
  const bool norm_in_gemv = fused || moe_norm_fused;
  const bool bf16_in = tc && !opt_.split_bf16;
  const auto pf_it = plan_.o_prefetch.find(T);
  const bool prefetch_o = opt_.weight_prefetch && !tc && T <= kSsStride && pf_it != plan_.o_prefetch.end() && pf_it->second;
  const bool ablate = opt_.ablate_attention && sh.decode_only && !tc;
  const auto da_it = plan_.decode_attention.find(T);
  // Absent from the plan: fused for GEMV-path steps (the H100's choice at batch 1 and 8), three kernels for
  // larger ones (batch 32/64 ran 13-20% slower fused with 16 warps).
  const CudaKernelPlan::DecodeAttention da = da_it != plan_.decode_attention.end() ? da_it->second
                                             : T <= opt_.gemv_max_rows ? CudaKernelPlan::DecodeAttention{}
                                                                       : CudaKernelPlan::DecodeAttention{0, 4};
  const bool fused_attention = sh.decode_only && sh.flash_tiles == 0 && T <= kMaxSplitTokens && da.warps > 0;
  backend::cuda::PdlScope pdl(opt_.pdl);
  const kc::StepMetaCopy mc = step_meta_copy(sh);
  const CUdeviceptr tokens = chain_tokens_ ? ids_.ptr() : mc.src ? mc.src : meta(0);
  const int64_t ss_zero = (2 * s_.num_layers + 1) * kSsStride - T;
  if (step > 0 && !(norm_in_gemv && sh.decode_only && greedy && sh.flash_tiles == 0))
    fail("CUDA executor: internal: step ", step, " of a multi-step graph off the fused greedy decode path");
  if (step > 0) {
    // embedded by the previous step's argmax_embedding
  } else if (norm_in_gemv) {
    kc::embedding(tokens, w_.embed.ptr(), x_.ptr(), T, h, stream_, ss_.ptr(), ss_zero, mc);
  } else {
    kc::embedding(tokens, w_.embed.ptr(), x_.ptr(), T, h, stream_, 0, 0, mc);
  }
  if (step == 0 && fwd_.embedding_scale != 1.0)
    kc::scale_embeddings(x_.ptr(), T * h, static_cast<float>(fwd_.embedding_scale), stream_);
  for (int64_t l = 0; l < s_.num_layers; ++l) {
    const DeviceLayer& L = w_.layers[static_cast<size_t>(l)];
    const graph::LayerStep& P = fwd_.layers[static_cast<size_t>(l)];  // what this layer computes
    const bool sliding_rope = P.attention.rope == graph::RopeTableId::Sliding;
    const kernels::RopeTable& rope = sliding_rope ? sliding_rope_ : rope_;
    const kc::GemvOutput gated = P.mlp.activation == model::Activation::GeluTanh ? kc::GemvOutput::GeGlu
                                                                                 : kc::GemvOutput::SwiGlu;
    if (norm_in_gemv) {
      gemv(x_.ptr(), L.qkv.ptr(), qkv_.ptr(), T, qkv_n, h, false,
           {kc::GemvInput::RmsNorm, kc::GemvOutput::Plain, L.attn_norm.ptr(), ss(2 * l), eps, 0});
    } else if (bf16_in) {
      kc::rmsnorm(x_.ptr(), 0, L.attn_norm.ptr(), actb_.ptr(), T, h, eps, true, stream_);
      matmul_bf16(actb_.ptr(), L.qkv.ptr(), qkv_.ptr(), T, qkv_n, h, false, L.qkv_dtype);
    } else {
      kc::rmsnorm(x_.ptr(), 0, L.attn_norm.ptr(), xn_.ptr(), T, h, eps, false, stream_);
      linear(tc, xn_.ptr(), L.qkv.ptr(), qkv_.ptr(), T, qkv_n, h, false, L.qkv_dtype);
    }
    if (prefetch_o) prefetch_weights(L.o.ptr(), static_cast<int64_t>(L.o.bytes()));
    kc::RopeKvArgs ra;
    ra.qkv = qkv_.ptr();
    ra.stride = qkv_n;
    ra.bias = L.qkv_bias.ptr();
    ra.q_norm = L.q_norm.ptr();
    ra.k_norm = L.k_norm.ptr();
    ra.eps = eps;
    ra.positions = meta(o_pos_);
    ra.slots = meta(o_slot_);
    ra.inv_freq = sliding_rope ? inv_freq_sliding_.ptr() : inv_freq_.ptr();
    ra.rotary_dim = rope.rotary_dim;
    ra.attention_scaling = rope.attention_scaling;
    ra.k_cache = k_cache_[static_cast<size_t>(l)].ptr();
    ra.v_cache = v_cache_[static_cast<size_t>(l)].ptr();
    ra.kv_f32 = opt_.kv_f32;
    ra.kv_fp8 = !opt_.kv_f32 && opt_.narrow_kv == kernels::KvFormat::Fp8E4M3;
    ra.kv_int8 = !opt_.kv_f32 && opt_.narrow_kv == kernels::KvFormat::Int8;
    ra.block_size = block_size_;
    ra.tokens = T;
    ra.heads = H;
    ra.kv_heads = KVH;
    ra.head_dim = D;
    if (ablate) {
      // the benchmark's ablation leaves RoPE and attention out
    } else if (fused_attention) {
      kc::decode_attention_rope({ra, paged_args(sh, l, ra), attn_counters_.ptr(), da.warps, da.keys_per_warp, da.cluster, da.reg_heads},
                                stream_);
    } else {
      kc::rope_kv_write(ra, stream_);
      attend(sh, l, ra);
    }
    if (fused) {
      gemv(attn_.ptr(), L.o.ptr(), x_.ptr(), T, h, qd, true,
           {kc::GemvInput::Plain, kc::GemvOutput::AccumulateSumSq, 0, 0, eps, ss(2 * l + 1)});
      gemv(x_.ptr(), L.gate_up.ptr(), act_.ptr(), T, 2 * L.inter, h, false,
           {kc::GemvInput::RmsNorm, gated, L.mlp_norm.ptr(), ss(2 * l + 1), eps, 0});
      gemv(act_.ptr(), L.down.ptr(), x_.ptr(), T, h, L.inter, true,
           {kc::GemvInput::Plain, kc::GemvOutput::AccumulateSumSq, 0, 0, eps, ss(2 * l + 2)});
      continue;
    }
    // All-MoE models on the device-routed path: the MLP's RMSNorm too runs in a GEMV prologue (the router's),
    // from sums of squares the o_proj GEMV adds; the router GEMV also writes the normalised rows the experts read.
    const bool mlp_norm_fused = moe_norm_fused && L.router.bytes();
    if (mlp_norm_fused)
      gemv(attn_.ptr(), L.o.ptr(), x_.ptr(), T, h, qd, true,
           {kc::GemvInput::Plain, kc::GemvOutput::AccumulateSumSq, 0, 0, eps, ss(2 * l + 1)});
    else {
      const auto [o_out, o_acc] = sublayer_out(P.post_attention_norm);
      linear(tc, attn_.ptr(), L.o.ptr(), o_out, T, h, qd, o_acc, L.o_dtype);
      finish_sublayer(P.post_attention_norm, L.post_attn_norm, T);
    }
    const auto [down_out, down_acc] = sublayer_out(P.post_mlp_norm);

    if (bf16_in && !L.router.bytes()) {
      // Tensor-core path with one bf16 product: the norm and the gated activation write the GEMMs' bf16
      // inputs directly.
      kc::rmsnorm(x_.ptr(), 0, L.mlp_norm.ptr(), actb_.ptr(), T, h, eps, true, stream_);
      matmul_bf16(actb_.ptr(), L.gate_up.ptr(), gu_.ptr(), T, 2 * L.inter, h, false, L.gate_up_dtype);
      gated_activation(P.mlp, actb_.ptr(), T, L.inter, true);
      matmul_bf16(actb_.ptr(), L.down.ptr(), down_out, T, h, L.inter, down_acc, L.down_dtype);
      finish_sublayer(P.post_mlp_norm, L.post_mlp_norm, T);
      continue;
    }
    if (!mlp_norm_fused) kc::rmsnorm(x_.ptr(), 0, L.mlp_norm.ptr(), xn_.ptr(), T, h, eps, false, stream_);
    if (L.router.bytes()) {
      moe(L, T, moe_norm_fused ? ss(2 * l + 2) : 0, mlp_norm_fused ? ss(2 * l + 1) : 0);
    } else {
      if (opt_.fuse && !tc && T <= kSsStride && L.gate_up_dtype == DType::BF16) {
        // The norm kernel stayed separate (the plan's choice for this step size); SwiGLU still rides
        // in the gate/up GEMV's epilogue, which costs it nothing (bf16 weights: the quantized GEMV has none).
        gemv(xn_.ptr(), L.gate_up.ptr(), act_.ptr(), T, 2 * L.inter, h, false,
             {kc::GemvInput::Plain, gated, 0, 0, eps, 0});
      } else {
        linear(tc, xn_.ptr(), L.gate_up.ptr(), gu_.ptr(), T, 2 * L.inter, h, false, L.gate_up_dtype);
        gated_activation(P.mlp, act_.ptr(), T, L.inter, false);
      }
      linear(tc, act_.ptr(), L.down.ptr(), down_out, T, h, L.inter, down_acc, L.down_dtype);
      finish_sublayer(P.post_mlp_norm, L.post_mlp_norm, T);
    }
  }
  if (norm_in_gemv && sh.decode_only) {
    // Decode-only: logits row i is token i, so the final norm runs in the head GEMV's prologue. Greedy:
    // the argmax in its epilogue, finished by one small kernel that also embeds the next step's tokens
    // when this graph runs one.
    kc::GemvFusion head{kc::GemvInput::RmsNorm, kc::GemvOutput::Plain, w_.final_norm.ptr(), ss(2 * s_.num_layers), eps, 0};
    if (greedy) {
      head.output = kc::GemvOutput::ArgMax;
      head.argmax_words = argmax_words_.ptr();
    }
    gemv(x_.ptr(), w_.head(), logits_.ptr(), R, s_.vocab_size, h, false, head);
    if (greedy) {
      const bool next = step + 1 < sh.steps;
      kc::argmax_embedding(argmax_words_.ptr(), ids_.ptr(), ids_host_[meta_cur_]->device_ptr() + static_cast<CUdeviceptr>(step * R) * 4,
                           next ? w_.embed.ptr() : 0, x_.ptr(), R, h, stream_, ss_.ptr(), ss_zero);
    }
    return;
  }
  const bool tc_head = R > opt_.gemv_max_rows;
  kc::rmsnorm(x_.ptr(), meta(o_rows_), w_.final_norm.ptr(), xn_.ptr(), R, h, eps, false, stream_);
  linear(tc_head, xn_.ptr(), w_.head(), logits_.ptr(), R, s_.vocab_size, h, false);
  if (greedy) argmax(R);
}

// The step's token ids: into ids_ (the next chained step reads them there) and into the current pinned slot.
void CudaExecutorImpl::argmax(int64_t rows) {
  kc::argmax_rows(logits_.ptr(), ids_.ptr(), rows, s_.vocab_size, stream_, argmax_scratch_.ptr(), opt_.max_logit_rows,
                  ids_host_[meta_cur_]->device_ptr());
}

// The step's attention for layer l, after RoPE wrote this step's K/V: tensor-core flash tiles for
// prefill-sized steps, else the paged kernel (split along the sequence for decode).
void CudaExecutorImpl::attend(const StepShape& sh, int64_t l, const kc::RopeKvArgs& ra) {
  const int64_t H = s_.num_heads, KVH = s_.num_kv_heads, D = s_.head_dim, qkv_n = s_.q_dim() + 2 * s_.kv_dim();
  if (sh.flash_tiles > 0) {
    kc::FlashAttentionArgs fa;
    fa.q = qkv_.ptr();
    fa.q_stride = qkv_n;
    fa.k_cache = ra.k_cache;
    fa.v_cache = ra.v_cache;
    fa.kv_fp8 = ra.kv_fp8;
    fa.kv_int8 = ra.kv_int8;
    fa.tiles = shared_meta(o_tiles_);
    fa.num_tiles = sh.flash_tiles;
    fa.positions = meta(o_pos_);
    fa.block_tables = shared_meta(o_tab_);
    fa.table_stride = table_stride_;
    fa.block_size = block_size_;
    fa.heads = H;
    fa.kv_heads = KVH;
    fa.head_dim = D;
    fa.window = fwd_.layers[static_cast<size_t>(l)].attention.window;
    fa.scale = static_cast<float>(fwd_.layers[static_cast<size_t>(l)].attention.scale);
    fa.out = attn_.ptr();
    kc::flash_attention(fa, stream_);
  } else {
    kc::paged_attention(paged_args(sh, l, ra), stream_);
  }
}

// The paged decode/prefill attention's arguments for layer l (q: the step's projection, after RoPE or,
// for the fused decode kernel, before it).
kc::PagedAttentionArgs CudaExecutorImpl::paged_args(const StepShape& sh, int64_t l, const kc::RopeKvArgs& ra) const {
  const int64_t T = sh.tokens, H = s_.num_heads, KVH = s_.num_kv_heads, D = s_.head_dim,
                qkv_n = s_.q_dim() + 2 * s_.kv_dim();
  kc::PagedAttentionArgs aa;
  aa.q = qkv_.ptr();
  aa.q_stride = qkv_n;
  aa.k_cache = ra.k_cache;
  aa.v_cache = ra.v_cache;
  aa.kv_f32 = opt_.kv_f32;
  aa.kv_fp8 = ra.kv_fp8;
  aa.kv_int8 = ra.kv_int8;
  aa.positions = meta(o_pos_);
  aa.token_seq = meta(o_seq_);
  aa.block_tables = shared_meta(o_tab_);
  aa.table_stride = table_stride_;
  aa.block_size = block_size_;
  aa.tokens = T;
  aa.heads = H;
  aa.kv_heads = KVH;
  aa.head_dim = D;
  aa.window = fwd_.layers[static_cast<size_t>(l)].attention.window;
  aa.scale = static_cast<float>(fwd_.layers[static_cast<size_t>(l)].attention.scale);
  aa.lane_per_key = sh.splits == 1 && T > kMaxSplitTokens;
  aa.splits = sh.splits;
  aa.split_size = sh.split_size;
  aa.partial = partial_.ptr();
  aa.out = attn_.ptr();
  return aa;
}

}  // namespace synaptix::engine::cuda
