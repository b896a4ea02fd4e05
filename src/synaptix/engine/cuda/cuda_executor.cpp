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

CudaExecutorImpl::CudaExecutorImpl(std::shared_ptr<hw::cuda::Context> ctx, const model::Spec& s, DeviceWeights w,
                                   KvConfig kv, const CudaExecutorOptions& opt)
    : ctx_(std::move(ctx)), s_(s), w_(std::move(w)), opt_(opt) {
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

  allocate_buffers();
  layout_metadata();

  if (s_.rope_scaling.type != "dynamic") rope_ = kernels::make_rope_table(s_);
  else rope_ = kernels::make_rope_table(s_, 0);
  inv_freq_ = DeviceBuffer(std::max<size_t>(rope_.inv_freq.size(), 1) * 4);
  inv_freq_.upload(rope_.inv_freq.data(), rope_.inv_freq.size() * 4);
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
  std::set<std::tuple<int64_t, int64_t, int64_t>> out;
  const int64_t h = s_.hidden_size;
  auto add = [&](int64_t m, int64_t n, int64_t k) {
    if (m <= opt_.gemv_max_rows) {
      for (int64_t r = 0; r < m; r += 8) out.insert({std::min<int64_t>(8, m - r), n, k});
    } else {
      out.insert({m, n, k});
    }
  };
  add(T, s_.q_dim() + 2 * s_.kv_dim(), h);
  add(T, h, s_.q_dim());
  for (const auto& L : w_.layers)
    if (L.gate_up.bytes()) {
      add(T, 2 * L.inter, h);
      add(T, h, L.inter);
    }
  add(R, s_.vocab_size, h);
  return {out.begin(), out.end()};
}

bool CudaExecutorImpl::use_flash(int64_t tokens) const {
  return opt_.flash_attention && !opt_.kv_f32 && tokens >= opt_.flash_min_tokens &&
         kc::flash_attention_supports(s_.head_dim);
}

void CudaExecutorImpl::validate_spec() {
  // Not yet here: the post-norms, (1 + w) norms, GELU-tanh MLP, embedding scale, per-layer RoPE bases and
  // soft-caps of gemma3 (the CPU executor has them). Refused rather than computed wrongly.
  if (s_.family == model::Family::Gemma3 || s_.post_norms || s_.norm_weight_offset != 0 ||
      s_.mlp_activation != model::Activation::Silu || s_.embedding_scale != 1.0 || s_.sliding_rope_theta > 0 ||
      s_.attn_logit_softcap > 0 || s_.final_logit_softcap > 0)
    fail("CUDA executor: model family ", model::family_name(s_.family),
         " is not implemented on the GPU yet (gemma3's post-norms, GELU-tanh MLP, scaled embeddings and "
         "per-layer RoPE bases); run it with --target cpu");
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
  if (static_cast<int64_t>(w_.layers.size()) != s_.num_layers)
    fail("CUDA executor: ", w_.layers.size(), " layers of weights for a spec of ", s_.num_layers);
}

}  // namespace cuda

std::unique_ptr<CudaExecutor> make_cuda_executor(const model::Model& m, KvConfig kv, int device,
                                                 const CudaExecutorOptions& opt) {
  auto ctx = std::make_shared<hw::cuda::Context>(device);
  cuda::DeviceWeights w = cuda::upload_weights(m);
  return std::make_unique<cuda::CudaExecutorImpl>(std::move(ctx), m.spec, std::move(w), kv, opt);
}

std::unique_ptr<Executor> make_cuda_executor(const model::Model& m, KvConfig kv, int device) {
  return make_cuda_executor(m, kv, device, CudaExecutorOptions{});
}

std::unique_ptr<CudaExecutor> make_cuda_executor_random(const model::Spec& s, uint64_t seed, KvConfig kv, int device,
                                                        const CudaExecutorOptions& opt) {
  auto ctx = std::make_shared<hw::cuda::Context>(device);
  cuda::DeviceWeights w = cuda::random_weights(s, seed);
  return std::make_unique<cuda::CudaExecutorImpl>(std::move(ctx), s, std::move(w), kv, opt);
}

}  // namespace synaptix::engine
