// One forward step enqueued on the executor's stream: eagerly, or through the graph cache for decode steps.
// The step's kernel choices (from the kernel plan, the options and the step's shape) and the forward plan
// give its launches (engine/cuda_step_launches.h walks the forward: the embedding, each layer's norm, QKV
// projection, RoPE and KV write, attention, output projection and MLP, dense or MoE (moe.cpp), the final norm,
// the LM head and the greedy argmax, with the fused kernels covering neighbouring ops); each runs here on the
// executor's buffers and weights. Which kernel runs each linear product is linear_dispatch.cpp's business;
// where the step's metadata lies, step_metadata.cpp's.
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
#include "synaptix/engine/cuda/quant_decode_fusion.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;
using hw::cuda::check;

namespace {

kc::GemvOutput gemv_output(GemvEpilogue e) {
  switch (e) {
    case GemvEpilogue::Plain: return kc::GemvOutput::Plain;
    case GemvEpilogue::AccumulateSumSq: return kc::GemvOutput::AccumulateSumSq;
    case GemvEpilogue::SwiGlu: return kc::GemvOutput::SwiGlu;
    case GemvEpilogue::GeGlu: return kc::GemvOutput::GeGlu;
    case GemvEpilogue::ArgMax: return kc::GemvOutput::ArgMax;
  }
  return kc::GemvOutput::Plain;
}

}  // namespace

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

// Step `step` of sh.steps (> 0: its tokens are the previous step's, embedded by that step's last kernel): the
// launches the forward walker's ops plan to (engine/cuda_step_launches.h), in order.
void CudaExecutorImpl::enqueue_step(const StepShape& sh, bool greedy, int64_t step) {
  const StepKernelChoices c = step_choices(sh, greedy, step);
  if (step > 0 && !(c.norm_in_gemv() && sh.decode_only && greedy && sh.flash_tiles == 0))
    fail("CUDA executor: internal: step ", step, " of a multi-step graph off the fused greedy decode path");
  // Eager steps of one shape repeat their choices (decode steps that are not captured): plan those once.
  if (!(c == planned_for_)) {
    planned_ = plan_step_launches(fwd_, c);
    planned_for_ = c;
  }
  backend::cuda::PdlScope pdl(opt_.pdl);
  for (const KernelLaunch& k : planned_) launch(k, sh, step);
}

StepKernelChoices CudaExecutorImpl::step_choices(const StepShape& sh, bool greedy, int64_t step) const {
  const int64_t T = sh.tokens;
  StepKernelChoices c;
  c.tokens = T;
  c.logit_rows = sh.logit_rows;
  c.first_step = step == 0;
  c.last_step = step + 1 >= sh.steps;
  c.greedy = greedy;
  c.decode_only = sh.decode_only;
  c.tensor_cores = T > opt_.gemv_max_rows;
  c.bf16_inputs = c.tensor_cores && !opt_.split_bf16;
  const bool fuse_step = decode_fused(T);
  c.dense_fused = fuse_step && !s_.is_moe();
  // MoE models whose every layer is MoE, on the device-routed path: the attention's RMSNorm runs in the qkv
  // GEMV's prologue (and the final one in the head's), from sums of squares the expert down kernel adds; the
  // MLP's in the router GEMV's, from those the o_proj GEMV adds.
  c.moe_norm_fused = fuse_step && all_layers_moe_ && moe_on_device(T);
  const auto pf_it = plan_.o_prefetch.find(T);
  c.prefetch_o = opt_.weight_prefetch && !c.tensor_cores && T <= kSsStride && pf_it != plan_.o_prefetch.end() && pf_it->second;
  c.ablate_attention = opt_.ablate_attention && sh.decode_only && !c.tensor_cores;
  c.fused_decode_attention = sh.decode_only && sh.flash_tiles == 0 && T <= kMaxSplitTokens && decode_attention(T).warps > 0;
  // With the norm kernel separate (the plan's choice for this step size), the gated activation still rides in
  // a bf16 gate/up GEMV's epilogue.
  c.gated_in_gemv = opt_.fuse && !c.tensor_cores && T <= kSsStride;
  c.tensor_core_head = sh.logit_rows > opt_.gemv_max_rows;
  // Quantized layers: whether the tensor-core product takes a launch's norm is its own check at the launch
  // (quant_norm_linear), which otherwise runs the kernels apart.
  c.norm_in_quant_product = opt_.fuse && w_.quantized && !c.tensor_cores && T <= kSsStride;
  c.layer_weights.reserve(w_.layers.size());
  for (const DeviceLayer& L : w_.layers)
    c.layer_weights.push_back({L.qkv_dtype == DType::BF16, L.gate_up_dtype == DType::BF16});
  return c;
}

// The plan's decode attention for T tokens. Absent from the plan: fused for GEMV-path steps (the H100's
// choice at batch 1 and 8), three kernels for larger ones (batch 32/64 ran 13-20% slower fused with 16 warps).
CudaKernelPlan::DecodeAttention CudaExecutorImpl::decode_attention(int64_t T) const {
  const auto da_it = plan_.decode_attention.find(T);
  return da_it != plan_.decode_attention.end() ? da_it->second
         : T <= opt_.gemv_max_rows             ? CudaKernelPlan::DecodeAttention{}
                                               : CudaKernelPlan::DecodeAttention{0, 4};
}

void CudaExecutorImpl::launch(const KernelLaunch& k, const StepShape& sh, int64_t step) {
  const int64_t h = s_.hidden_size;
  const float eps = static_cast<float>(s_.rms_norm_eps);
  const auto slot = [&](int64_t i) { return i >= 0 ? ss(i) : CUdeviceptr{0}; };
  // The accumulators after the embedding's sums of squares that it (or argmax_embedding, for the next step)
  // zeroes: every later slot the step's norms read.
  const int64_t ss_zero = (2 * s_.num_layers + 1) * kSsStride - sh.tokens;
  switch (k.kind) {
    case LaunchKind::Embedding: {
      // With chain_tokens the step's token ids are the ids the previous greedy step left in ids_.
      const kc::StepMetaCopy mc = step_meta_copy(sh);
      const CUdeviceptr tokens = chain_tokens_ ? ids_.ptr() : mc.src ? mc.src : meta(0);
      const bool sums = k.ss_out >= 0;
      kc::embedding(tokens, w_.embed.ptr(), x_.ptr(), k.m, h, stream_, sums ? slot(k.ss_out) : 0, sums ? ss_zero : 0, mc);
      return;
    }
    case LaunchKind::ScaleEmbeddings:
      kc::scale_embeddings(x_.ptr(), k.m * h, static_cast<float>(fwd_.embedding_scale), stream_);
      return;
    case LaunchKind::RmsNorm:
      kc::rmsnorm(x_.ptr(), k.logit_rows ? meta(o_rows_) : 0, norm_weight(k), buffer(k.out), k.m, h, eps, k.bf16_out,
                  stream_);
      return;
    case LaunchKind::RmsNormAdd:
      kc::rmsnorm_add(xn_.ptr(), norm_weight(k), x_.ptr(), k.m, h, static_cast<float>(fwd_.rms_norm_eps), stream_);
      return;
    case LaunchKind::Gemv: {
      kc::GemvFusion f{k.prologue == GemvPrologue::RmsNorm ? kc::GemvInput::RmsNorm : kc::GemvInput::Plain,
                       gemv_output(k.epilogue),
                       k.norm != Weight::None ? norm_weight(k) : 0,
                       slot(k.ss_in),
                       eps,
                       slot(k.ss_out)};
      if (k.epilogue == GemvEpilogue::ArgMax) f.argmax_words = argmax_words_.ptr();
      gemv(buffer(k.in), weight(k), buffer(k.out), k.m, k.n, k.k, k.accumulate, f);
      return;
    }
    case LaunchKind::Linear:
      linear(k.tensor_cores, buffer(k.in), weight(k), buffer(k.out), k.m, k.n, k.k, k.accumulate, weight_dtype(k));
      return;
    case LaunchKind::MatmulBf16:
      matmul_bf16(buffer(k.in), weight(k), buffer(k.out), k.m, k.n, k.k, k.accumulate, weight_dtype(k));
      return;
    case LaunchKind::NormProduct: {
      // The quantized tensor-core product with the RMSNorm in its prologue (and the gated activation in its
      // epilogue) where it takes the step (quant_decode_fusion.h); else norm, product and activation apart.
      const bool glu = k.epilogue != GemvEpilogue::Plain;
      const kc::QuantGlu g = k.epilogue == GemvEpilogue::GeGlu ? kc::QuantGlu::GeGluTanh
                             : glu                             ? kc::QuantGlu::SwiGlu
                                                               : kc::QuantGlu::None;
      if (quant_norm_linear(w_, opt_, stream_, x_.ptr(), norm_weight(k), eps, weight(k), weight_dtype(k), buffer(k.out),
                            k.m, k.n, k.k, g))
        return;
      kc::rmsnorm(x_.ptr(), 0, norm_weight(k), xn_.ptr(), k.m, h, eps, false, stream_);
      linear(false, xn_.ptr(), weight(k), glu ? gu_.ptr() : buffer(k.out), k.m, k.n, k.k, false, weight_dtype(k));
      if (k.epilogue == GemvEpilogue::GeGlu) kc::geglu_tanh(gu_.ptr(), buffer(k.out), k.m, k.n / 2, false, stream_);
      else if (glu) kc::swiglu(gu_.ptr(), buffer(k.out), k.m, k.n / 2, false, stream_);
      return;
    }
    case LaunchKind::PrefetchWeights: {
      const DeviceLayer& L = w_.layers[static_cast<size_t>(k.layer)];  // the o weights (the only prefetch planned)
      prefetch_weights(L.o.ptr(), static_cast<int64_t>(L.o.bytes()));
      return;
    }
    case LaunchKind::RopeKvWrite:
      kc::rope_kv_write(rope_kv_args(k.layer, k.m), stream_);
      return;
    case LaunchKind::DecodeAttentionRope: {
      const kc::RopeKvArgs ra = rope_kv_args(k.layer, k.m);
      const CudaKernelPlan::DecodeAttention da = decode_attention(k.m);
      kc::decode_attention_rope({ra, paged_args(sh, k.layer, ra), attn_counters_.ptr(), da.warps, da.keys_per_warp, da.cluster, da.reg_heads},
                                stream_);
      return;
    }
    case LaunchKind::Attention:
      attend(sh, k.layer, rope_kv_args(k.layer, k.m));
      return;
    case LaunchKind::GatedActivation:  // over gu_ (interleaved gate/up rows)
      if (k.epilogue == GemvEpilogue::GeGlu) kc::geglu_tanh(gu_.ptr(), buffer(k.out), k.m, k.n, k.bf16_out, stream_);
      else kc::swiglu(gu_.ptr(), buffer(k.out), k.m, k.n, k.bf16_out, stream_);
      return;
    case LaunchKind::Moe:
      moe(w_.layers[static_cast<size_t>(k.layer)], k.m, slot(k.ss_out), slot(k.ss_in));
      return;
    case LaunchKind::ArgmaxRows:
      argmax(k.m);
      return;
    case LaunchKind::ArgmaxEmbedding:
      kc::argmax_embedding(argmax_words_.ptr(), ids_.ptr(), ids_host_[meta_cur_]->device_ptr() + static_cast<CUdeviceptr>(step * k.m) * 4,
                           k.embeds_next ? w_.embed.ptr() : 0, x_.ptr(), k.m, h, stream_, ss_.ptr(), ss_zero);
      return;
  }
}

CUdeviceptr CudaExecutorImpl::buffer(Buffer b) const {
  switch (b) {
    case Buffer::X: return x_.ptr();
    case Buffer::Xn: return xn_.ptr();
    case Buffer::Qkv: return qkv_.ptr();
    case Buffer::Attn: return attn_.ptr();
    case Buffer::GateUp: return gu_.ptr();
    case Buffer::Act: return act_.ptr();
    case Buffer::ActBf16: return actb_.ptr();
    case Buffer::Logits: return logits_.ptr();
    case Buffer::None: break;
  }
  fail("CUDA executor: internal: a launch reads or writes no buffer");
}

CUdeviceptr CudaExecutorImpl::weight(const KernelLaunch& k) const {
  if (k.weight == Weight::Head) return w_.head();
  const DeviceLayer& L = w_.layers.at(static_cast<size_t>(k.layer));
  switch (k.weight) {
    case Weight::Qkv: return L.qkv.ptr();
    case Weight::O: return L.o.ptr();
    case Weight::GateUp: return L.gate_up.ptr();
    case Weight::Down: return L.down.ptr();
    default: break;
  }
  fail("CUDA executor: internal: a product of layer ", k.layer, " names no matrix");
}

DType CudaExecutorImpl::weight_dtype(const KernelLaunch& k) const {
  if (k.weight == Weight::Head) return DType::BF16;
  const DeviceLayer& L = w_.layers.at(static_cast<size_t>(k.layer));
  switch (k.weight) {
    case Weight::Qkv: return L.qkv_dtype;
    case Weight::O: return L.o_dtype;
    case Weight::GateUp: return L.gate_up_dtype;
    case Weight::Down: return L.down_dtype;
    default: break;
  }
  fail("CUDA executor: internal: a product of layer ", k.layer, " names no matrix");
}

CUdeviceptr CudaExecutorImpl::norm_weight(const KernelLaunch& k) const {
  if (k.norm == Weight::FinalNorm) return w_.final_norm.ptr();
  const DeviceLayer& L = w_.layers.at(static_cast<size_t>(k.layer));
  switch (k.norm) {
    case Weight::AttentionNorm: return L.attn_norm.ptr();
    case Weight::MlpNorm: return L.mlp_norm.ptr();
    case Weight::PostAttentionNorm: return L.post_attn_norm.ptr();
    case Weight::PostMlpNorm: return L.post_mlp_norm.ptr();
    default: break;
  }
  fail("CUDA executor: internal: a norm of layer ", k.layer, " names no scale");
}

// RoPE (with the layer's q/k norms and q|k|v bias, where it has them) and the KV write of layer l's T tokens:
// what the RoPE kernel, the fused decode attention and the attention kernels read.
kc::RopeKvArgs CudaExecutorImpl::rope_kv_args(int64_t l, int64_t T) const {
  const DeviceLayer& L = w_.layers[static_cast<size_t>(l)];
  const bool sliding_rope = fwd_.layers[static_cast<size_t>(l)].attention.rope == graph::RopeTableId::Sliding;
  const kernels::RopeTable& rope = sliding_rope ? sliding_rope_ : rope_;
  kc::RopeKvArgs ra;
  ra.qkv = qkv_.ptr();
  ra.stride = s_.q_dim() + 2 * s_.kv_dim();
  ra.bias = L.qkv_bias.ptr();
  ra.q_norm = L.q_norm.ptr();
  ra.k_norm = L.k_norm.ptr();
  ra.eps = static_cast<float>(s_.rms_norm_eps);
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
  ra.heads = s_.num_heads;
  ra.kv_heads = s_.num_kv_heads;
  ra.head_dim = s_.head_dim;
  return ra;
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
