// Steps whose token ids are chosen on the device: greedy (the argmax after the LM head, or inside it on the
// fused decode path), pipelined greedy (up to two launches in flight, each of up to kMaxGraphSteps chained
// steps, ids read back from mapped pinned memory) and sampled (kernels/sampling/cuda/sample_cuda.h).
#include "synaptix/backend/cuda/launch/sample.h"
#include "synaptix/core/error.h"
#include "synaptix/engine/cuda/cuda_executor_impl.h"

namespace synaptix::engine::cuda {

namespace kc = kernels::cuda;
using hw::cuda::check;

void CudaExecutorImpl::step_greedy(std::span<const SeqChunk> chunks, std::vector<int32_t>& ids) {
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

int64_t CudaExecutorImpl::max_greedy_steps(int64_t seqs) const {
  // The later steps of a launch take the paged decode attention (tables and no flash tiles of their own).
  return seqs >= 1 && head_argmax_fused(seqs) && !use_flash(seqs) && s_.rope_scaling.type != "dynamic" ? kMaxGraphSteps
                                                                                                      : 1;
}

void CudaExecutorImpl::enqueue_greedy(std::span<const SeqChunk> chunks, bool chain_tokens, int64_t steps) {
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

void CudaExecutorImpl::finish_greedy(std::vector<int32_t>& ids) {
  ctx_->make_current();
  if (in_flight_.empty()) fail("CUDA executor: finish_greedy() with no step in flight");
  const InFlight f = in_flight_.front();
  in_flight_.pop_front();
  check(cuEventSynchronize(ids_ev_[f.slot]), "cuEventSynchronize after a pipelined step");
  const int32_t* h = ids_host_[f.slot]->data();
  ids.assign(h, h + f.rows);
}

bool CudaExecutorImpl::can_sample() const {
  return kc::sample_rows_supported(ctx_->attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
}

// Like step_greedy, but each row's token is drawn on the device (kernels/sampling/cuda/sample_cuda.h). The
// draw runs after the step (or its graph replay), outside any graph: its seed and step change every call.
void CudaExecutorImpl::step_sample(std::span<const SeqChunk> chunks, const SamplingParams& p, uint64_t step_index,
                                   std::vector<int32_t>& ids) {
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

// The synchronous step calls share the pinned buffers with pipelined steps: none may be in flight.
void CudaExecutorImpl::require_idle(const char* what) const {
  if (!in_flight_.empty())
    fail("CUDA executor: ", what, "() while ", in_flight_.size(), " pipelined step(s) are in flight; finish_greedy() them first");
}

}  // namespace synaptix::engine::cuda
