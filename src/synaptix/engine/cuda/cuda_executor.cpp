#include "synaptix/engine/cuda/cuda_executor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <set>

#include "synaptix/backend/cuda/cublaslt_matmul.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/device_weights.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"
#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"
#include "synaptix/kernels/embedding/cuda/embedding_cuda.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"
#include "synaptix/kernels/linear/cuda/weight_prefetch_cuda.h"
#include "synaptix/kernels/moe/cuda/moe_experts_cuda.h"
#include "synaptix/kernels/moe/cuda/moe_route_cuda.h"
#include "synaptix/kernels/moe/cuda/moe_rows_cuda.h"
#include "synaptix/kernels/moe/cuda/moe_sort_cuda.h"
#include "synaptix/kernels/rmsnorm/cuda/rmsnorm_cuda.h"
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"
#include "synaptix/kernels/rope/reference.h"
#include "synaptix/kernels/sampling/cuda/argmax_cuda.h"
#include "synaptix/kernels/sampling/cuda/sample_cuda.h"
#include "synaptix/kernels/swiglu/cuda/swiglu_cuda.h"
#include "synaptix/model/model.h"

namespace synaptix::engine {
namespace {

namespace bc = backend::cuda;
namespace kc = kernels::cuda;
using bc::DeviceBuffer;
using hw::cuda::check;

constexpr int64_t kMaxSeqsPerStep = 256;
// Decode attention: positions per split block, and the most splits (power of two) a step uses.
constexpr int64_t kSplitSize = 64;
constexpr int64_t kMaxSplits = 64;
constexpr int64_t kMaxSplitTokens = 64;  // steps with more tokens have enough blocks without splitting
// Fused decode: sums of squares of the residual stream, one slot per RMSNorm of the step, kSsStride rows each.
constexpr int64_t kSsStride = 8;
// The most greedy decode steps one enqueue (one graph) runs back to back, each fed the previous one's tokens
// on the device (see max_greedy_steps).
constexpr int64_t kMaxGraphSteps = 8;

// Pinned host memory mapped for the device: a decode step's kernels read its metadata and write its token
// ids there directly, so no copy sits on the stream between two graph replays.
class PinnedInts {
 public:
  explicit PinnedInts(size_t n) : n_(n) {
    void* p = nullptr;
    check(cuMemHostAlloc(&p, n * sizeof(int32_t), CU_MEMHOSTALLOC_DEVICEMAP), "cuMemHostAlloc");
    p_ = static_cast<int32_t*>(p);
    check(cuMemHostGetDevicePointer(&dev_, p, 0), "cuMemHostGetDevicePointer");
  }
  ~PinnedInts() {
    if (p_) cuMemFreeHost(p_);
  }
  PinnedInts(const PinnedInts&) = delete;
  PinnedInts& operator=(const PinnedInts&) = delete;
  int32_t* data() { return p_; }
  CUdeviceptr device_ptr() const { return dev_; }
  size_t size() const { return n_; }

 private:
  int32_t* p_ = nullptr;
  CUdeviceptr dev_ = 0;
  size_t n_ = 0;
};

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
  CudaExecutorImpl(std::shared_ptr<hw::cuda::Context> ctx, const model::Spec& s, engine::cuda::DeviceWeights w,
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
    blas_ = std::make_unique<bc::BlasLtMatmul>();

    const size_t kv_bytes = static_cast<size_t>(num_blocks_ * block_size_ * s_.kv_dim()) * (opt_.kv_f32 ? 4 : 2);
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
    if (s_.is_moe()) {
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
    o_pos_ = Tm;
    o_slot_ = 2 * Tm;
    o_seq_ = 3 * Tm;
    o_rows_ = 4 * Tm;
    o_tab_ = 4 * Tm + opt_.max_logit_rows;
    o_tiles_ = o_tab_ + kMaxSeqsPerStep * table_stride_;
    const int64_t max_tiles = Tm / kc::kFlashTileTokens + kMaxSeqsPerStep;
    // Steps after the first of a multi-step graph (at most kSsStride sequences, no tiles) keep their
    // metadata step_stride_ ints apart, past the first step's.
    step_stride_ = o_tab_ + kSsStride * table_stride_;
    const size_t meta_n = static_cast<size_t>(o_tiles_ + 3 * max_tiles + (kMaxGraphSteps - 1) * step_stride_);
    meta_ = DeviceBuffer(meta_n * 4);
    for (int i = 0; i < 2; ++i) {
      meta_host_[i] = std::make_unique<PinnedInts>(meta_n);
      ids_host_[i] = std::make_unique<PinnedInts>(static_cast<size_t>(kMaxGraphSteps * opt_.max_logit_rows));
      check(cuEventCreate(&ids_ev_[i], CU_EVENT_DISABLE_TIMING), "cuEventCreate");
    }

    if (s_.rope_scaling.type != "dynamic") rope_ = kernels::make_rope_table(s_);
    else rope_ = kernels::make_rope_table(s_, 0);
    inv_freq_ = DeviceBuffer(std::max<size_t>(rope_.inv_freq.size(), 1) * 4);
    inv_freq_.upload(rope_.inv_freq.data(), rope_.inv_freq.size() * 4);
  }

  ~CudaExecutorImpl() override {
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

  const model::Spec& spec() const override { return s_; }
  int64_t num_blocks() const override { return num_blocks_; }
  int64_t block_size() const override { return block_size_; }
  int64_t weight_bytes() const override { return w_.bytes; }

  void step(std::span<const SeqChunk> chunks, std::vector<float>& logits) override {
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

  void step_greedy(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) override {
    ctx_->make_current();
    require_idle("step_greedy");
    StepShape sh = prepare(chunks);
    ids.resize(static_cast<size_t>(sh.logit_rows));
    if (sh.tokens == 0) return;
    run(sh, true);
    last_ids_rows_ = sh.logit_rows;
    check(cuStreamSynchronize(stream_), "cuStreamSynchronize after step");
    const int32_t* h = ids_host_[meta_cur_]->data();
    ids.assign(h, h + sh.logit_rows);
  }

  int64_t max_greedy_steps(int64_t seqs) const override {
    // The later steps of a launch take the paged decode attention (tables and no flash tiles of their own).
    return seqs >= 1 && head_argmax_fused(seqs) && !use_flash(seqs) && s_.rope_scaling.type != "dynamic" ? kMaxGraphSteps
                                                                                                        : 1;
  }

  void enqueue_greedy(std::span<const SeqChunk> chunks, bool chain_tokens, int64_t steps) override {
    ctx_->make_current();
    if (in_flight_.size() >= 2) fail("CUDA executor: two pipelined steps are in flight; finish_greedy() one first");
    if (steps < 1 || steps > max_greedy_steps(static_cast<int64_t>(chunks.size())))
      fail("CUDA executor: ", steps, " greedy steps in one enqueue; this step shape allows 1 to ",
           max_greedy_steps(static_cast<int64_t>(chunks.size())), " (max_greedy_steps)");
    // The other slot's copies belong to the step before the one in flight, which has finished.
    meta_cur_ = in_flight_.empty() ? meta_cur_ : 1 - in_flight_.back().slot;
    StepShape sh = prepare(chunks, steps);
    if (sh.tokens == 0) fail("CUDA executor: enqueue_greedy of an empty step");
    if (chain_tokens && (!sh.decode_only || sh.tokens != last_ids_rows_))
      fail("CUDA executor: a chained step needs one token per sequence and as many sequences as the previous "
           "greedy step had rows (", last_ids_rows_, "); got ", sh.tokens, " tokens",
           sh.decode_only ? "" : " not all single-token");
    run(sh, true, chain_tokens);
    last_ids_rows_ = sh.logit_rows;
    const int slot = meta_cur_;
    // The argmax wrote the ids into this slot's mapped pinned buffer; the event marks the step's end.
    check(cuEventRecord(ids_ev_[slot], stream_), "cuEventRecord");
    in_flight_.push_back({slot, sh.logit_rows * sh.steps});
  }

  void finish_greedy(std::vector<int32_t>& ids) override {
    ctx_->make_current();
    if (in_flight_.empty()) fail("CUDA executor: finish_greedy() with no step in flight");
    const InFlight f = in_flight_.front();
    in_flight_.pop_front();
    check(cuEventSynchronize(ids_ev_[f.slot]), "cuEventSynchronize after a pipelined step");
    const int32_t* h = ids_host_[f.slot]->data();
    ids.assign(h, h + f.rows);
  }

  bool can_sample() const override {
    return kc::sample_rows_supported(ctx_->attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
  }

  // Like step_greedy, but each row's token is drawn on the device (kernels/sampling/cuda/sample_cuda.h). The
  // draw runs after the step (or its graph replay), outside any graph: its seed and step change every call.
  void step_sample(std::span<const SeqChunk> chunks, const SamplingParams& p, uint64_t step_index,
                   std::vector<int32_t>& ids) override {
    require_idle("step_sample");
    if (p.repetition_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f)
      fail("CUDA executor: step_sample applies no penalties (repetition ", p.repetition_penalty, ", frequency ",
           p.frequency_penalty, ", presence ", p.presence_penalty, "); sample from step()'s logits on the host");
    ctx_->make_current();
    StepShape sh = prepare(chunks);
    ids.resize(static_cast<size_t>(sh.logit_rows));
    if (sh.tokens == 0) return;
    run(sh, false);
    const kc::DeviceSampling ds{p.temperature, p.top_k, p.top_p, p.min_p, p.seed, step_index};
    kc::sample_rows(logits_.ptr(), ids_.ptr(), sh.logit_rows, s_.vocab_size, ds, stream_);
    last_ids_rows_ = sh.logit_rows;
    check(cuMemcpyDtoHAsync(ids.data(), ids_.ptr(), ids.size() * 4, stream_), "download sampled token ids");
    check(cuStreamSynchronize(stream_), "cuStreamSynchronize after step");
  }

  void set_plan(const CudaKernelPlan& plan) override {
    ctx_->make_current();
    check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
    plan_ = plan;
    clear_graphs();
  }

  void set_speed(bool fuse, bool pdl, bool flash_attention, bool weight_prefetch) override {
    ctx_->make_current();
    check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
    opt_.fuse = fuse;
    opt_.pdl = pdl;
    opt_.flash_attention = flash_attention;
    opt_.weight_prefetch = weight_prefetch;
    clear_graphs();
  }

  void set_ablate_attention(bool on) override {
    ctx_->make_current();
    check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
    opt_.ablate_attention = on;
    clear_graphs();
  }

  std::vector<std::tuple<int64_t, int64_t, int64_t>> linear_shapes(int64_t T, int64_t R) const override {
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

 private:
  // Steps long enough for prefill attention on tensor cores (bf16 KV cache only: the f32 cache is the
  // precise mode, whose attention stays in f32).
  bool use_flash(int64_t tokens) const {
    return opt_.flash_attention && !opt_.kv_f32 && tokens >= opt_.flash_min_tokens &&
           kc::flash_attention_supports(s_.head_dim);
  }

  void validate_spec() {
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

  // Validates the chunks (token ids, block ids, table coverage) and writes the metadata into pinned memory.
  // With steps > 1 (one token per chunk), also the metadata of the steps that follow: step s at every
  // chunk's start_pos + s, step_stride_ ints after the step before.
  StepShape prepare(std::span<const SeqChunk> chunks, int64_t steps = 1) {
    StepShape sh;
    int32_t* meta = meta_host_[meta_cur_]->data();
    if (static_cast<int64_t>(chunks.size()) > kMaxSeqsPerStep)
      fail("CUDA executor: ", chunks.size(), " sequences in one step; at most ", kMaxSeqsPerStep);
    for (size_t c = 0; c < chunks.size(); ++c) {
      const SeqChunk& ch = chunks[c];
      if (ch.tokens.empty()) fail("executor: chunk ", c, " has no tokens");
      if (ch.start_pos < 0) fail("executor: chunk ", c, " has negative start_pos ", ch.start_pos);
      const int64_t end = ch.start_pos + static_cast<int64_t>(ch.tokens.size());
      if (end > static_cast<int64_t>(ch.block_table.size()) * block_size_)
        fail("executor: chunk ", c, " reaches position ", end, " but its block table covers only ",
             ch.block_table.size() * static_cast<size_t>(block_size_));
      if (static_cast<int64_t>(ch.block_table.size()) > table_stride_)
        fail("executor: chunk ", c, " has a block table of ", ch.block_table.size(), " blocks; at most ",
             table_stride_, " fit the CUDA executor's table");
      for (int32_t b : ch.block_table)
        if (b < 0 || b >= num_blocks_) fail("executor: block id ", b, " out of range [0, ", num_blocks_, ")");
      if (ch.tokens.size() != 1 || ch.all_logits) sh.decode_only = false;
      sh.max_len = std::max(sh.max_len, end);
      std::memcpy(meta + o_tab_ + static_cast<int64_t>(c) * table_stride_, ch.block_table.data(),
                  ch.block_table.size() * 4);
      for (size_t i = 0; i < ch.tokens.size(); ++i) {
        const int32_t tok = ch.tokens[i];
        if (tok < 0 || tok >= s_.vocab_size) fail("executor: token id ", tok, " out of range [0, ", s_.vocab_size, ")");
        if (sh.tokens >= opt_.max_tokens_per_step)
          fail("CUDA executor: step has more than ", opt_.max_tokens_per_step, " tokens (max_tokens_per_step)");
        const int64_t t = sh.tokens++;
        const int64_t pos = ch.start_pos + static_cast<int64_t>(i);
        if (ch.all_logits || i + 1 == ch.tokens.size()) {
          if (sh.logit_rows >= opt_.max_logit_rows)
            fail("CUDA executor: step needs more than ", opt_.max_logit_rows, " logits rows (max_logit_rows)");
          meta[o_rows_ + sh.logit_rows++] = static_cast<int32_t>(t);
        }
        meta[t] = tok;
        meta[o_pos_ + t] = static_cast<int32_t>(pos);
        meta[o_slot_ + t] = static_cast<int32_t>(ch.block_table[pos / block_size_] * block_size_ + pos % block_size_);
        meta[o_seq_ + t] = static_cast<int32_t>(c);
      }
    }
    sh.seqs = static_cast<int64_t>(chunks.size());
    if (steps > 1) prepare_following(chunks, steps, sh);
    if (use_flash(sh.tokens)) {
      // One tile per 64 consecutive tokens of a chunk (a tile never spans two sequences).
      int64_t t0 = 0;
      for (size_t c = 0; c < chunks.size(); ++c) {
        const int64_t n = static_cast<int64_t>(chunks[c].tokens.size());
        for (int64_t i = 0; i < n; i += kc::kFlashTileTokens) {
          int32_t* tile = meta + o_tiles_ + 3 * sh.flash_tiles++;
          tile[0] = static_cast<int32_t>(t0 + i);
          tile[1] = static_cast<int32_t>(std::min(kc::kFlashTileTokens, n - i));
          tile[2] = static_cast<int32_t>(c);
        }
        t0 += n;
      }
    }
    const auto split_it = plan_.attention_split.find(sh.tokens);
    const int64_t split = split_it == plan_.attention_split.end() ? kSplitSize : std::max<int64_t>(16, split_it->second);
    if (sh.tokens <= kMaxSplitTokens && sh.max_len > split) {
      int64_t splits = 1;
      while (splits * split < sh.max_len && splits < kMaxSplits) splits *= 2;
      sh.splits = splits;
      sh.split_size = (sh.max_len + splits - 1) / splits;
      sh.split_size = std::max<int64_t>(split, sh.split_size);
      // Round the split size so a graph captured for it serves the following steps too.
      sh.split_size = (sh.split_size + split - 1) / split * split;
    }
    // Decode-sized steps attend over at most splits * split_size positions (split with one split);
    // larger ones may read whole tables.
    const int64_t covered = sh.tokens > kMaxSplitTokens ? table_stride_ * block_size_
                            : sh.splits > 1             ? sh.splits * sh.split_size
                                                        : split;
    sh.table_used = std::min(table_stride_, (covered + block_size_ - 1) / block_size_);
    return sh;
  }

  void prepare_following(std::span<const SeqChunk> chunks, int64_t steps, StepShape& sh) {
    if (!sh.decode_only || sh.seqs > kSsStride || steps > kMaxGraphSteps)
      fail("CUDA executor: ", steps, " steps in one graph need one token in each of at most ", kSsStride,
           " sequences (and at most ", kMaxGraphSteps, " steps)");
    for (int64_t st = 1; st < steps; ++st) {
      int32_t* meta = meta_host_[meta_cur_]->data() + st * step_stride_;
      for (size_t c = 0; c < chunks.size(); ++c) {
        const SeqChunk& ch = chunks[c];
        const int64_t pos = ch.start_pos + st;
        if (pos >= static_cast<int64_t>(ch.block_table.size()) * block_size_)
          fail("executor: chunk ", c, " reaches position ", pos + 1, " in step ", st + 1, " of ", steps,
               " but its block table covers only ", ch.block_table.size() * static_cast<size_t>(block_size_));
        const int64_t t = static_cast<int64_t>(c);
        meta[o_rows_ + t] = static_cast<int32_t>(t);
        meta[o_pos_ + t] = static_cast<int32_t>(pos);
        meta[o_slot_ + t] = static_cast<int32_t>(ch.block_table[pos / block_size_] * block_size_ + pos % block_size_);
        meta[o_seq_ + t] = static_cast<int32_t>(c);
      }
    }
    sh.steps = steps;
    sh.max_len += steps - 1;  // the attention's splits cover the last step's context
  }

  // Decode steps leave the copy to the embedding kernel (see step_meta_copy); others copy it on the stream.
  void upload_meta(const StepShape& sh) {
    const int32_t* h = meta_host_[meta_cur_]->data();
    auto up = [&](int64_t off, int64_t n) {
      if (n > 0) check(cuMemcpyHtoDAsync(meta_.ptr() + off * 4, h + off, static_cast<size_t>(n) * 4, stream_), "upload step metadata");
    };
    // One copy of the whole span when it is small (each copy costs the stream a few us), else each used region.
    const int64_t end = sh.flash_tiles > 0 ? o_tiles_ + 3 * sh.flash_tiles : o_tab_ + sh.seqs * table_stride_;
    if (sh.decode_only) {
      // copied by the embedding kernel
    } else if (end * 4 <= (256 << 10)) {
      up(0, end);
    } else {
      up(0, sh.tokens);
      up(o_pos_, sh.tokens);
      up(o_slot_, sh.tokens);
      up(o_seq_, sh.tokens);
      up(o_rows_, sh.logit_rows);
      up(o_tab_, sh.seqs * table_stride_);
      up(o_tiles_, 3 * sh.flash_tiles);
    }
    if (s_.rope_scaling.type == "dynamic") {
      rope_ = kernels::make_rope_table(s_, sh.max_len);
      check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
      inv_freq_.upload(rope_.inv_freq.data(), rope_.inv_freq.size() * 4);
    }
  }

  // The synchronous step calls share the pinned buffers with pipelined steps: none may be in flight.
  void require_idle(const char* what) const {
    if (!in_flight_.empty())
      fail("CUDA executor: ", what, "() while ", in_flight_.size(), " pipelined step(s) are in flight; finish_greedy() them first");
  }

  // With chain_tokens the step's token ids are the ids the previous greedy step left in ids_ (one per row,
  // the same sequences in the same order), read there by the embedding kernel.
  void run(const StepShape& sh, bool greedy, bool chain_tokens = false) {
    upload_meta(sh);
    chain_tokens_ = chain_tokens;
    // MoE steps qualify when their routing stays on the device (no host round trip inside the capture).
    const bool graphable = opt_.use_graphs && sh.decode_only && (!s_.is_moe() || moe_on_device(sh.tokens));
    if (!graphable) {
      enqueue_forward(sh, greedy);
      return;
    }
    // A graph reads its metadata from, and writes its ids to, one of the two pinned slots.
    const auto key = std::make_tuple(sh.tokens, sh.splits, sh.split_size, greedy, meta_cur_, chain_tokens, sh.steps);
    auto it = graphs_.find(key);
    if (it != graphs_.end()) {
      check(cuGraphLaunch(it->second, stream_), "cuGraphLaunch");
      return;
    }
    if (!seen_.count(key)) {
      // First sight: run eagerly, which compiles and loads every kernel and plans cuBLASLt outside capture.
      seen_.insert(key);
      enqueue_forward(sh, greedy);
      return;
    }
    CUgraph graph = nullptr;
    check(cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture");
    try {
      enqueue_forward(sh, greedy);
    } catch (...) {
      cuStreamEndCapture(stream_, &graph);
      if (graph) cuGraphDestroy(graph);
      throw;
    }
    check(cuStreamEndCapture(stream_, &graph), "cuStreamEndCapture");
    CUgraphExec exec = nullptr;
    CUresult r = cuGraphInstantiate(&exec, graph, 0);
    cuGraphDestroy(graph);
    check(r, "cuGraphInstantiate");
    graphs_[key] = exec;
    check(cuGraphLaunch(exec, stream_), "cuGraphLaunch");
  }

  void clear_graphs() {
    for (auto& [k, g] : graphs_) cuGraphExecDestroy(g);
    graphs_.clear();
    seen_.clear();
  }

  // The metadata of the step being enqueued (meta_base_: its place in a multi-step graph).
  CUdeviceptr meta(int64_t off) const { return meta_.ptr() + static_cast<CUdeviceptr>(meta_base_ + off) * 4; }
  // The regions every step of a launch shares, the first step's (block tables and flash tiles: the same
  // chunks; see step_meta_copy).
  CUdeviceptr shared_meta(int64_t off) const { return meta_.ptr() + static_cast<CUdeviceptr>(off) * 4; }

  // y[m, n] (+)= x[m, k] W^T, x f32. The tensor-core path converts x to bf16 first (hi, and with split_bf16
  // also lo, accumulated by a second product).
  void linear(bool tc, CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc) {
    if (tc) {
      auto it = plan_.blaslt_algorithm.find({m, n, k});
      const int algo = it == plan_.blaslt_algorithm.end() ? 0 : it->second;
      if (opt_.split_bf16) {
        kc::split_bf16(x, actb_.ptr(), actlo_.ptr(), m * k, stream_);
        blas_->run(actb_.ptr(), w, y, DType::F32, m, n, k, stream_, algo, acc);
        blas_->run(actlo_.ptr(), w, y, DType::F32, m, n, k, stream_, algo, true);
      } else {
        kc::to_bf16(x, actb_.ptr(), m * k, stream_);
        blas_->run(actb_.ptr(), w, y, DType::F32, m, n, k, stream_, algo, acc);
      }
      return;
    }
    for (int64_t r = 0; r < m; r += 8) {
      const int rows = static_cast<int>(std::min<int64_t>(8, m - r));
      auto it = plan_.gemv.find({rows, n, k});
      const kc::GemvParams p = it == plan_.gemv.end() ? kc::gemv_default_params(rows, n, k) : it->second;
      kc::gemv_bf16(x + static_cast<CUdeviceptr>(r * k * 4), w, y + static_cast<CUdeviceptr>(r * n * 4), rows, n, k,
                    acc, p, stream_);
    }
  }

  // y[m, n] (+)= xb[m, k] W^T on tensor cores, xb already bf16.
  void matmul_bf16(CUdeviceptr xb, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc) {
    auto it = plan_.blaslt_algorithm.find({m, n, k});
    const int algo = it == plan_.blaslt_algorithm.end() ? 0 : it->second;
    blas_->run(xb, w, y, DType::F32, m, n, k, stream_, algo, acc);
  }

  // One fused GEMV (m <= 8 rows) with the plan's schedule for its shape.
  void gemv(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
            const kc::GemvFusion& f) {
    auto it = plan_.gemv.find({m, n, k});
    const int mi = static_cast<int>(m);
    kc::GemvParams p = it == plan_.gemv.end() ? kc::gemv_default_params(mi, n, k) : it->second;
    kc::gemv_bf16(x, w, y, mi, n, k, acc, kc::gemv_fit_params(p, mi, f), stream_, f);
  }

  // A decode step's metadata regions, for the embedding kernel to copy from the current pinned slot (its
  // token ids come separately: the slot's, or ids_ when chained). Other steps upload theirs on the stream.
  kc::StepMetaCopy step_meta_copy(const StepShape& sh) const {
    kc::StepMetaCopy mc;
    if (!sh.decode_only) return mc;
    mc.src = meta_host_[meta_cur_]->device_ptr();
    mc.dst = meta_.ptr();
    // The tiles too: a decode step of more than flash_min_tokens sequences takes the tensor-core attention.
    // The first four regions are per step (each step of a multi-step launch has its own); the tables (only
    // their entries the attention may read) and tiles are the first step's, shared by the others.
    const int64_t table_n = sh.seqs > 0 ? (sh.seqs - 1) * table_stride_ + sh.table_used : 0;
    const int64_t regions[][2] = {{o_pos_, sh.tokens}, {o_slot_, sh.tokens}, {o_seq_, sh.tokens},
                                  {o_rows_, sh.logit_rows}, {o_tab_, table_n}, {o_tiles_, 3 * sh.flash_tiles}};
    static_assert(std::size(regions) == kc::StepMetaCopy::kRegions);
    mc.per_step_regions = 4;
    for (size_t r = 0; r < std::size(regions); ++r) {
      mc.off[r] = static_cast<int32_t>(regions[r][0]);
      mc.n[r] = static_cast<int32_t>(regions[r][1]);
    }
    mc.steps = static_cast<int32_t>(sh.steps);
    mc.step_stride = static_cast<int32_t>(step_stride_);
    return mc;
  }

  CUdeviceptr ss(int64_t slot) const { return ss_.ptr() + static_cast<CUdeviceptr>(slot * kSsStride) * 4; }

  // The step's kernels on stream_; weight prefetches forked onto side_ are joined back at the end (a captured
  // graph must rejoin every stream it forked).
  void enqueue_forward(const StepShape& sh, bool greedy) {
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
  void prefetch_weights(CUdeviceptr w, int64_t bytes) {
    check(cuEventRecord(fork_ev_, stream_), "cuEventRecord");
    check(cuStreamWaitEvent(side_, fork_ev_, 0), "cuStreamWaitEvent");
    kc::weight_prefetch(w, bytes, 2 * sm_count_, side_);
    side_used_ = true;
  }

  // Whether a decode step of T tokens runs its final RMSNorm in the LM head GEMV's prologue (the fused decode
  // path), where the greedy argmax rides in that GEMV's epilogue (argmax_embedding finishes it).
  bool head_argmax_fused(int64_t T) const {
    return decode_fused(T) && (!s_.is_moe() || (all_layers_moe_ && moe_on_device(T)));
  }
  // Whether a step of T tokens on the GEMV path fuses its RMSNorms into GEMV prologues (the plan's choice).
  bool decode_fused(int64_t T) const {
    const auto fuse_it = plan_.fuse_decode.find(T);
    return opt_.fuse && (fuse_it == plan_.fuse_decode.end() || fuse_it->second) && T <= opt_.gemv_max_rows &&
           T <= kSsStride;
  }

  // Step `step` of sh.steps (> 0: its tokens are the previous step's, embedded by that step's last kernel).
  void enqueue_step(const StepShape& sh, bool greedy, int64_t step) {
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
    bc::PdlScope pdl(opt_.pdl);
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
    for (int64_t l = 0; l < s_.num_layers; ++l) {
      const engine::cuda::DeviceLayer& L = w_.layers[static_cast<size_t>(l)];
      if (norm_in_gemv) {
        gemv(x_.ptr(), L.qkv.ptr(), qkv_.ptr(), T, qkv_n, h, false,
             {kc::GemvInput::RmsNorm, kc::GemvOutput::Plain, L.attn_norm.ptr(), ss(2 * l), eps, 0});
      } else if (bf16_in) {
        kc::rmsnorm(x_.ptr(), 0, L.attn_norm.ptr(), actb_.ptr(), T, h, eps, true, stream_);
        matmul_bf16(actb_.ptr(), L.qkv.ptr(), qkv_.ptr(), T, qkv_n, h, false);
      } else {
        kc::rmsnorm(x_.ptr(), 0, L.attn_norm.ptr(), xn_.ptr(), T, h, eps, false, stream_);
        linear(tc, xn_.ptr(), L.qkv.ptr(), qkv_.ptr(), T, qkv_n, h, false);
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
      ra.inv_freq = inv_freq_.ptr();
      ra.rotary_dim = rope_.rotary_dim;
      ra.attention_scaling = rope_.attention_scaling;
      ra.k_cache = k_cache_[static_cast<size_t>(l)].ptr();
      ra.v_cache = v_cache_[static_cast<size_t>(l)].ptr();
      ra.kv_f32 = opt_.kv_f32;
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
             {kc::GemvInput::RmsNorm, kc::GemvOutput::SwiGlu, L.mlp_norm.ptr(), ss(2 * l + 1), eps, 0});
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
      else
        linear(tc, attn_.ptr(), L.o.ptr(), x_.ptr(), T, h, qd, true);

      if (bf16_in && !L.router.bytes()) {
        // Tensor-core path with one bf16 product: the norm and SwiGLU write the GEMMs' bf16 inputs directly.
        kc::rmsnorm(x_.ptr(), 0, L.mlp_norm.ptr(), actb_.ptr(), T, h, eps, true, stream_);
        matmul_bf16(actb_.ptr(), L.gate_up.ptr(), gu_.ptr(), T, 2 * L.inter, h, false);
        kc::swiglu(gu_.ptr(), actb_.ptr(), T, L.inter, true, stream_);
        matmul_bf16(actb_.ptr(), L.down.ptr(), x_.ptr(), T, h, L.inter, true);
        continue;
      }
      if (!mlp_norm_fused) kc::rmsnorm(x_.ptr(), 0, L.mlp_norm.ptr(), xn_.ptr(), T, h, eps, false, stream_);
      if (L.router.bytes()) {
        moe(L, T, moe_norm_fused ? ss(2 * l + 2) : 0, mlp_norm_fused ? ss(2 * l + 1) : 0);
      } else {
        if (opt_.fuse && !tc && T <= kSsStride) {
          // The norm kernel stayed separate (the plan's choice for this step size); SwiGLU still rides
          // in the gate/up GEMV's epilogue, which costs it nothing.
          gemv(xn_.ptr(), L.gate_up.ptr(), act_.ptr(), T, 2 * L.inter, h, false,
               {kc::GemvInput::Plain, kc::GemvOutput::SwiGlu, 0, 0, eps, 0});
        } else {
          linear(tc, xn_.ptr(), L.gate_up.ptr(), gu_.ptr(), T, 2 * L.inter, h, false);
          kc::swiglu(gu_.ptr(), act_.ptr(), T, L.inter, false, stream_);
        }
        linear(tc, act_.ptr(), L.down.ptr(), x_.ptr(), T, h, L.inter, true);
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
  void argmax(int64_t rows) {
    kc::argmax_rows(logits_.ptr(), ids_.ptr(), rows, s_.vocab_size, stream_, argmax_scratch_.ptr(), opt_.max_logit_rows,
                    ids_host_[meta_cur_]->device_ptr());
  }

  // The step's attention for layer l, after RoPE wrote this step's K/V: tensor-core flash tiles for
  // prefill-sized steps, else the paged kernel (split along the sequence for decode).
  void attend(const StepShape& sh, int64_t l, const kc::RopeKvArgs& ra) {
    const int64_t H = s_.num_heads, KVH = s_.num_kv_heads, D = s_.head_dim, qkv_n = s_.q_dim() + 2 * s_.kv_dim();
    if (sh.flash_tiles > 0) {
      kc::FlashAttentionArgs fa;
      fa.q = qkv_.ptr();
      fa.q_stride = qkv_n;
      fa.k_cache = ra.k_cache;
      fa.v_cache = ra.v_cache;
      fa.tiles = shared_meta(o_tiles_);
      fa.num_tiles = sh.flash_tiles;
      fa.positions = meta(o_pos_);
      fa.block_tables = shared_meta(o_tab_);
      fa.table_stride = table_stride_;
      fa.block_size = block_size_;
      fa.heads = H;
      fa.kv_heads = KVH;
      fa.head_dim = D;
      fa.window = s_.window_for_layer(l);
      fa.scale = 1.0f / std::sqrt(static_cast<float>(D));
      fa.out = attn_.ptr();
      kc::flash_attention(fa, stream_);
    } else {
      kc::paged_attention(paged_args(sh, l, ra), stream_);
    }
  }

  // The paged decode/prefill attention's arguments for layer l (q: the step's projection, after RoPE or,
  // for the fused decode kernel, before it).
  kc::PagedAttentionArgs paged_args(const StepShape& sh, int64_t l, const kc::RopeKvArgs& ra) const {
    const int64_t T = sh.tokens, H = s_.num_heads, KVH = s_.num_kv_heads, D = s_.head_dim,
                  qkv_n = s_.q_dim() + 2 * s_.kv_dim();
    kc::PagedAttentionArgs aa;
    aa.q = qkv_.ptr();
    aa.q_stride = qkv_n;
    aa.k_cache = ra.k_cache;
    aa.v_cache = ra.v_cache;
    aa.kv_f32 = opt_.kv_f32;
    aa.positions = meta(o_pos_);
    aa.token_seq = meta(o_seq_);
    aa.block_tables = shared_meta(o_tab_);
    aa.table_stride = table_stride_;
    aa.block_size = block_size_;
    aa.tokens = T;
    aa.heads = H;
    aa.kv_heads = KVH;
    aa.head_dim = D;
    aa.window = s_.window_for_layer(l);
    aa.scale = 1.0f / std::sqrt(static_cast<float>(D));
    aa.lane_per_key = sh.splits == 1 && T > kMaxSplitTokens;
    aa.splits = sh.splits;
    aa.split_size = sh.split_size;
    aa.partial = partial_.ptr();
    aa.out = attn_.ptr();
    return aa;
  }

  // Decode-sized steps run the grouped expert GEMVs with no host round trip (see moe()).
  bool moe_on_device(int64_t T) const { return T <= std::min<int64_t>(opt_.gemv_max_rows, moe_device_tokens_); }

  // Sparse MoE: the router runs on the device, and so does the routing (moe_route: softmax, top-k). Decode-
  // sized steps then run every routed expert in two grouped kernels that add the weighted outputs into the
  // residual stream: no host round trip, so the step can be captured. Larger steps run each expert as its
  // own GEMMs on the rows routed to it, which needs the per-expert counts on the host (one small download
  // and sync per MoE layer), so such steps are never captured (they are not decode-only anyway).
  // ss_out (device-routed steps only): where the expert down kernel adds each token's sum of squares of the
  // updated residual.
  void moe(const engine::cuda::DeviceLayer& L, int64_t T, CUdeviceptr ss_out, CUdeviceptr norm_ss = 0) {
    const int64_t h = s_.hidden_size, E = s_.num_experts, K = s_.num_experts_per_tok;
    // xn_ holds the f32 norm output (MoE layers always normalise to f32: routing decisions are sensitive);
    // with norm_ss the router GEMV normalises x_ in its prologue and writes xn_ itself.
    if (norm_ss)
      gemv(x_.ptr(), L.router.ptr(), router_.ptr(), T, E, h, false,
           {kc::GemvInput::RmsNorm, kc::GemvOutput::Plain, L.mlp_norm.ptr(), norm_ss, static_cast<float>(s_.rms_norm_eps), 0,
            xn_.ptr()});
    else
      linear(false, xn_.ptr(), L.router.ptr(), router_.ptr(), T, E, h, false);
    if (moe_on_device(T)) {
      kc::moe_route(router_.ptr(), moe_idx_.ptr(), moe_w_.ptr(), T, E, K, s_.norm_topk_prob, stream_);
      const DeviceBuffer& ptrs = moe_ptrs_[static_cast<size_t>(&L - w_.layers.data())];
      kc::MoeExpertsArgs a;
      a.x = xn_.ptr();
      a.residual = x_.ptr();
      a.ids = moe_idx_.ptr();
      a.weights = moe_w_.ptr();
      a.gate_up_ptrs = ptrs.ptr();
      a.down_ptrs = ptrs.ptr() + static_cast<CUdeviceptr>(E) * 8;
      a.act = moe_act_.ptr();
      a.tokens = T;
      a.top_k = K;
      a.experts = E;
      a.hidden = h;
      a.inter = L.inter;
      a.ss_out = ss_out;
      const auto spread = plan_.moe_down_spread.find(T);
      if (spread == plan_.moe_down_spread.end() || spread->second) {
        a.down_scratch = moe_down_scratch_.ptr();
        a.down_counters = moe_down_counters_.ptr();
      }
      kc::moe_experts(a, stream_);
      return;
    }
    // Larger steps: route and group the pairs by expert on the device; only the per-expert counts come to
    // the host, to size each expert's launches.
    kc::moe_route(router_.ptr(), moe_route_ids_.ptr(), moe_route_w_.ptr(), T, E, K, s_.norm_topk_prob, stream_);
    kc::moe_sort(moe_route_ids_.ptr(), moe_route_w_.ptr(), moe_counts_.ptr(), moe_idx_.ptr(), moe_w_.ptr(), T, K, E,
                 stream_);
    std::vector<int32_t> counts(static_cast<size_t>(E));
    check(cuMemcpyDtoHAsync(counts.data(), moe_counts_.ptr(), counts.size() * 4, stream_), "download MoE expert counts");
    check(cuStreamSynchronize(stream_), "cuStreamSynchronize for MoE expert counts");
    int64_t routed = 0;
    for (int32_t n : counts) routed += n < 0 ? T * K + 1 : n;
    if (routed != T * K)  // our own invariant; checked because the counts size the launches below
      fail("MoE layer ", &L - w_.layers.data(), ": the device routing counted ", routed, " (token, expert) pairs, expected ",
           T * K);
    int64_t off = 0;
    for (int64_t e = 0; e < E; ++e) {
      const int64_t n = counts[static_cast<size_t>(e)];
      off += n;
      if (n == 0) continue;
      const int64_t first = off - n;
      const CUdeviceptr rows = moe_idx_.ptr() + static_cast<CUdeviceptr>(first) * 4;
      kc::gather_rows(xn_.ptr(), rows, moe_out_.ptr(), n, h, stream_);
      const bool tc = n > opt_.gemv_max_rows;
      linear(tc, moe_out_.ptr(), L.expert_gate_up[static_cast<size_t>(e)].ptr(), gu_.ptr(), n, 2 * L.inter, h, false);
      kc::swiglu(gu_.ptr(), act_.ptr(), n, L.inter, false, stream_);
      linear(tc, act_.ptr(), L.expert_down[static_cast<size_t>(e)].ptr(), moe_out_.ptr(), n, h, L.inter, false);
      kc::scatter_add_scaled(moe_out_.ptr(), rows, moe_w_.ptr() + static_cast<CUdeviceptr>(first) * 4, x_.ptr(), n, h,
                             stream_);
    }
  }

  std::shared_ptr<hw::cuda::Context> ctx_;
  model::Spec s_;
  engine::cuda::DeviceWeights w_;
  CudaExecutorOptions opt_;
  CudaKernelPlan plan_;
  int64_t block_size_ = 16, num_blocks_ = 0, table_stride_ = 0, inter_max_ = 0;
  CUstream stream_ = nullptr;
  CUstream side_ = nullptr;  // weight prefetches beside the main chain
  CUevent fork_ev_ = nullptr, join_ev_ = nullptr;
  int sm_count_ = 1;
  bool side_used_ = false;
  std::unique_ptr<bc::BlasLtMatmul> blas_;
  std::vector<DeviceBuffer> k_cache_, v_cache_;
  DeviceBuffer x_, xn_, qkv_, attn_, gu_, act_, actb_, logits_, ids_, partial_, meta_, inv_freq_;
  DeviceBuffer attn_counters_;  // the fused decode attention's split counters (zero between launches)
  DeviceBuffer moe_out_, router_, moe_idx_, moe_w_, actlo_, ss_, argmax_scratch_;
  DeviceBuffer argmax_words_;  // the head GEMV's argmax keys for kSsStride rows (zero between steps)
  DeviceBuffer moe_act_;                // f32 [pairs, inter]: the grouped experts' SwiGLU outputs
  DeviceBuffer moe_down_scratch_, moe_down_counters_;  // the spread down kernel's per-pair rows and counters
  DeviceBuffer moe_route_ids_, moe_route_w_, moe_counts_;  // prefill-sized steps: routing, per-expert counts
  std::vector<DeviceBuffer> moe_ptrs_;  // per layer: u64 [2 experts] expert weight base pointers
  int64_t moe_device_tokens_ = kc::kMoeExpertsMaxTokens;  // MoE steps up to this size route on the device
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
  kernels::RopeTable rope_;
  using GraphKey = std::tuple<int64_t, int64_t, int64_t, bool, int, bool, int64_t>;  // shape, greedy, slot, chained, steps
  std::map<GraphKey, CUgraphExec> graphs_;
  std::set<GraphKey> seen_;
  bool chain_tokens_ = false;  // the step being enqueued reads its token ids from ids_
};

}  // namespace

std::unique_ptr<CudaExecutor> make_cuda_executor(const model::Model& m, KvConfig kv, int device,
                                                 const CudaExecutorOptions& opt) {
  auto ctx = std::make_shared<hw::cuda::Context>(device);
  engine::cuda::DeviceWeights w = engine::cuda::upload_weights(m);
  return std::make_unique<CudaExecutorImpl>(std::move(ctx), m.spec, std::move(w), kv, opt);
}

std::unique_ptr<Executor> make_cuda_executor(const model::Model& m, KvConfig kv, int device) {
  return make_cuda_executor(m, kv, device, CudaExecutorOptions{});
}

std::unique_ptr<CudaExecutor> make_cuda_executor_random(const model::Spec& s, uint64_t seed, KvConfig kv, int device,
                                                        const CudaExecutorOptions& opt) {
  auto ctx = std::make_shared<hw::cuda::Context>(device);
  engine::cuda::DeviceWeights w = engine::cuda::random_weights(s, seed);
  return std::make_unique<CudaExecutorImpl>(std::move(ctx), s, std::move(w), kv, opt);
}

}  // namespace synaptix::engine
