// The CUDA executor's construction, its public settings and the synchronous step; the rest of the class is
// defined by concern in the files cuda_executor_impl.h lists.
#include "synaptix/engine/cuda/cuda_executor.h"

#include <algorithm>
#include <set>

#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor_impl.h"
#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"
#include "synaptix/model/model.h"

namespace synaptix::engine {
namespace cuda {

namespace kc = kernels::cuda;
using hw::cuda::check;

CudaExecutorImpl::CudaExecutorImpl(std::shared_ptr<hw::cuda::Context> ctx, const model::Spec& s,
                                   graph::ForwardPlan fwd, DeviceWeights w, KvConfig kv, const CudaExecutorOptions& opt)
    : ctx_(std::move(ctx)), s_(s), fwd_(std::move(fwd)), w_(std::move(w)), opt_(opt) {
  validate_spec();
  block_size_ = kv.block_size > 0 ? kv.block_size : 16;
  num_blocks_ = kv.num_blocks;
  if (num_blocks_ <= 0) {
    const int64_t ctx_len = std::min<int64_t>(s_.max_position_embeddings, 4096);
    num_blocks_ = (ctx_len + block_size_ - 1) / block_size_;
  }
  table_stride_ = std::min<int64_t>(num_blocks_, (s_.max_position_embeddings + block_size_ - 1) / block_size_);
  table_stride_ = std::max<int64_t>(table_stride_, 1);
  check(cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  check(cuStreamCreate(&side_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  check(cuEventCreate(&fork_ev_, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  check(cuEventCreate(&join_ev_, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  CUdevice dev = 0;
  check(cuCtxGetDevice(&dev), "cuCtxGetDevice");
  check(cuDeviceGetAttribute(&sm_count_, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "cuDeviceGetAttribute");
  blas_ = std::make_unique<backend::cuda::BlasLtMatmul>();
  if (opt_.fp8_activations) setup_w8a8();  // refuses a model or device that cannot run it, before the KV cache

  allocate_buffers();
  layout_metadata();

  if (s_.rope_scaling.type != "dynamic") rope_ = kernels::make_rope_table(s_);
  else rope_ = kernels::make_rope_table(s_, 0);
  inv_freq_ = DeviceBuffer(std::max<size_t>(rope_.inv_freq.size(), 1) * 4);
  inv_freq_.upload(rope_.inv_freq.data(), rope_.inv_freq.size() * 4);
  // The sliding-window layers' own table (gemma3's local RoPE base), from the first layer the plan rotates by it.
  for (size_t l = 0; l < fwd_.layers.size(); ++l)
    if (fwd_.layers[l].attention.rope == graph::RopeTableId::Sliding) {
      sliding_rope_ = kernels::make_layer_rope_table(s_, static_cast<int64_t>(l), 0);
      inv_freq_sliding_ = DeviceBuffer(std::max<size_t>(sliding_rope_.inv_freq.size(), 1) * 4);
      inv_freq_sliding_.upload(sliding_rope_.inv_freq.data(), sliding_rope_.inv_freq.size() * 4);
      break;
    }
}

CudaExecutorImpl::~CudaExecutorImpl() {
  cuCtxSetCurrent(ctx_->get());
  if (stream_) cuStreamSynchronize(stream_);
  clear_graphs();
  if (stream_) cuStreamDestroy(stream_);
  if (side_) cuStreamSynchronize(side_), cuStreamDestroy(side_);
  if (fork_ev_) cuEventDestroy(fork_ev_);
  if (join_ev_) cuEventDestroy(join_ev_);
  for (CUevent e : ids_ev_)
    if (e) cuEventDestroy(e);
}

void CudaExecutorImpl::step(std::span<const SeqChunk> chunks, std::vector<float>& logits) {
  ctx_->make_current();
  require_idle("step");
  StepShape sh = prepare(chunks);
  if (sh.tokens == 0) {
    logits.clear();
    return;
  }
  run(sh, false);
  logits.resize(static_cast<size_t>(sh.logit_rows * s_.vocab_size));
  check(cuMemcpyDtoHAsync(logits.data(), logits_.ptr(), logits.size() * 4, stream_), "download logits");
  check(cuStreamSynchronize(stream_), "cuStreamSynchronize after step");
}

void CudaExecutorImpl::set_plan(const CudaKernelPlan& plan) {
  ctx_->make_current();
  check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
  plan_ = plan;
  clear_graphs();
}

void CudaExecutorImpl::set_speed(bool fuse, bool pdl, bool flash_attention, bool weight_prefetch) {
  ctx_->make_current();
  check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
  opt_.fuse = fuse;
  opt_.pdl = pdl;
  opt_.flash_attention = flash_attention;
  opt_.weight_prefetch = weight_prefetch;
  clear_graphs();
}

void CudaExecutorImpl::set_ablate_attention(bool on) {
  ctx_->make_current();
  check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
  opt_.ablate_attention = on;
  clear_graphs();
}

std::vector<std::tuple<int64_t, int64_t, int64_t>> CudaExecutorImpl::linear_shapes(int64_t T, int64_t R) const {
  // The plan's products with q|k|v and gate|up fused (as the device weights hold them); the GEMV path runs
  // a product of m rows as calls of up to 8.
  std::set<std::tuple<int64_t, int64_t, int64_t>> out;
  for (const auto& [m, n, k] : graph::step_linear_shapes(fwd_, T, R, true)) {
    if (m <= opt_.gemv_max_rows) {
      for (int64_t r = 0; r < m; r += 8) out.insert({std::min<int64_t>(8, m - r), n, k});
    } else {
      out.insert({m, n, k});
    }
  }
  return {out.begin(), out.end()};
}

bool CudaExecutorImpl::use_flash(int64_t tokens) const {
  return opt_.flash_attention && !opt_.kv_f32 && tokens >= opt_.flash_min_tokens &&
         kc::flash_attention_supports(s_.head_dim);
}

void CudaExecutorImpl::validate_spec() {
  // Every per-layer decision comes from the forward plan; what the kernels cannot compute is refused here
  // rather than computed wrongly. No published Gemma 3 config sets the soft-caps (they are null).
  const char* family = model::family_name(fwd_.family);
  if (fwd_.final_logit_softcap > 0)
    fail("CUDA executor: ", family, " with final_logit_softcapping ", fwd_.final_logit_softcap,
         " is not implemented on the GPU (no soft-cap in the LM head or its argmax); run it with --target cpu");
  for (size_t l = 0; l < fwd_.layers.size() && l < w_.layers.size(); ++l) {
    const graph::LayerStep& P = fwd_.layers[l];
    const DeviceLayer& L = w_.layers[l];
    if (P.attention.qk_norm != (L.q_norm.bytes() > 0) || P.attention.qkv_bias != (L.qkv_bias.bytes() > 0) ||
        P.post_attention_norm != (L.post_attn_norm.bytes() > 0) || P.post_mlp_norm != (L.post_mlp_norm.bytes() > 0) ||
        (P.mlp.kind == graph::MlpKind::Moe) != (L.router.bytes() > 0))
      fail("CUDA executor: layer ", l, "'s weights (q/k norms, q/k/v biases, post-norms, router) do not match the ",
           family, " forward plan");
    // The launches take the products' shapes from the plan (engine/cuda_step_launches.h), the MoE kernels
    // from the weights: the two must agree.
    if (L.inter != P.mlp.inter)
      fail("CUDA executor: layer ", l, "'s gate has ", L.inter, " rows; the ", family, " forward plan expects ",
           P.mlp.inter, " (intermediate_size or moe_intermediate_size)");
    if (P.attention.logit_softcap > 0)
      fail("CUDA executor: ", family, " layer ", l, " soft-caps its attention scores (attn_logit_softcapping ",
           P.attention.logit_softcap, "), which the GPU attention kernels do not; run it with --target cpu");
    if (P.mlp.kind == graph::MlpKind::Moe && (P.post_mlp_norm || P.mlp.activation != model::Activation::Silu))
      fail("CUDA executor: ", family, " layer ", l, ": the GPU's routed experts compute SiLU and add into the "
           "residual; a post-MLP norm or another activation there is not implemented");
  }
  if (fwd_.uses_sliding_rope() && s_.sliding_rope_scaling.type == "dynamic")
    fail("CUDA executor: ", family, ": dynamic RoPE scaling of the sliding-window layers' own table is not "
         "implemented on the GPU; run it with --target cpu");
  if (fwd_.layers.size() != static_cast<size_t>(s_.num_layers))
    fail("CUDA executor: a forward plan of ", fwd_.layers.size(), " layers for a spec of ", s_.num_layers);
  const int64_t h = s_.hidden_size;
  if (h % 8 || s_.q_dim() % 8 || s_.kv_dim() % 8)
    fail("CUDA executor: hidden_size ", h, ", q_dim ", s_.q_dim(), " and kv_dim ", s_.kv_dim(),
         " must be multiples of 8 (16-byte weight loads)");
  for (const auto& L : w_.layers)
    if (L.inter % 8) fail("CUDA executor: intermediate size ", L.inter, " must be a multiple of 8");
  if (s_.num_kv_heads <= 0 || s_.num_heads % s_.num_kv_heads)
    fail("CUDA executor: num_heads ", s_.num_heads, " is not a multiple of num_kv_heads ", s_.num_kv_heads);
  if (s_.num_heads / s_.num_kv_heads * s_.head_dim > kc::kMaxAttentionGroupDim)
    fail("CUDA executor: ", s_.num_heads / s_.num_kv_heads, " query heads per KV head of head_dim ", s_.head_dim,
         " exceed the attention kernel's limit of ", kc::kMaxAttentionGroupDim);
  if (opt_.quant_gemv_max_rows < 0)
    fail("CUDA executor: quant_gemv_max_rows ", opt_.quant_gemv_max_rows, " (expected 0 or more rows)");
  // A bad schedule would otherwise fail at the first decode step, taking every request in flight with it.
  for (const auto& [rows, p] : opt_.quant_gemv_schedule) {
    try {
      kc::check_quant_gemv_params(rows, p);
    } catch (const Error& e) {
      fail("CUDA executor: quant_gemv_schedule for ", rows, " rows: ", e.what());
    }
  }
  if (opt_.quant_mma_max_rows < 0 || opt_.quant_mma_max_rows > kc::kQuantMmaMaxRows)
    fail("CUDA executor: quant_mma_max_rows ", opt_.quant_mma_max_rows, " (expected 0..", kc::kQuantMmaMaxRows, ")");
  for (const auto& [tiles, p] : opt_.quant_mma_schedule) {
    try {
      kc::check_quant_mma_params(8 * tiles, p);
    } catch (const Error& e) {
      fail("CUDA executor: quant_mma_schedule for ", tiles, " tiles of 8 tokens: ", e.what());
    }
  }
  if (static_cast<int64_t>(w_.layers.size()) != s_.num_layers)
    fail("CUDA executor: ", w_.layers.size(), " layers of weights for a spec of ", s_.num_layers);
}

}  // namespace cuda

std::unique_ptr<CudaExecutor> make_cuda_executor(const model::Model& m, KvConfig kv, int device,
                                                 const CudaExecutorOptions& opt) {
  graph::ForwardPlan plan = graph::build_forward_plan(m.spec);
  auto ctx = std::make_shared<hw::cuda::Context>(device);
  cuda::DeviceWeights w = cuda::upload_weights(m, plan);
  return std::make_unique<cuda::CudaExecutorImpl>(std::move(ctx), m.spec, std::move(plan), std::move(w), kv, opt);
}

std::unique_ptr<Executor> make_cuda_executor(const model::Model& m, KvConfig kv, int device) {
  return make_cuda_executor(m, kv, device, CudaExecutorOptions{});
}

std::unique_ptr<CudaExecutor> make_cuda_executor_random(const model::Spec& s, uint64_t seed, KvConfig kv, int device,
                                                        const CudaExecutorOptions& opt, DType weights) {
  graph::ForwardPlan plan = graph::build_forward_plan(s);
  auto ctx = std::make_shared<hw::cuda::Context>(device);
  cuda::DeviceWeights w = cuda::random_weights(s, plan, seed, weights);
  return std::make_unique<cuda::CudaExecutorImpl>(std::move(ctx), s, std::move(plan), std::move(w), kv, opt);
}

}  // namespace synaptix::engine
