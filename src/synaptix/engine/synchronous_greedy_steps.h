#pragma once
// PipelinedGreedyStep for an executor whose steps run at once (the CPU's): enqueue_greedy runs its steps
// through the executor's own greedy step before returning and keeps their ids until finish_greedy. The
// contract and its refusals are the device's (executor.h), so code written against the interface is tested
// on a machine without one: chained rows are fed the previous greedy step's ids, step s of a multi-step
// enqueue the ids of step s - 1, at most two enqueues wait to be finished.
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <vector>

#include "synaptix/engine/executor.h"

namespace synaptix::engine {

class SynchronousGreedySteps {
 public:
  // Steps one enqueue may run (the CUDA executor's graphs run up to 8).
  static constexpr int64_t kMaxSteps = 8;
  using ArgmaxStep = std::function<void(std::span<const SeqChunk>, std::vector<int32_t>&)>;

  // `argmax` runs one greedy step (GreedyStep::step_argmax's meaning) without the idle check.
  SynchronousGreedySteps(ArgmaxStep argmax, int64_t block_size) : argmax_(std::move(argmax)), block_size_(block_size) {}

  int64_t max_steps(int64_t seqs) const { return seqs >= 1 ? kMaxSteps : 1; }
  void enqueue(std::span<const SeqChunk> chunks, bool chain_tokens, int64_t steps);
  void finish(std::vector<int32_t>& ids);
  // The ids of a greedy step run outside the pipeline (step_argmax): what a following chained enqueue is fed.
  void note_greedy_ids(const std::vector<int32_t>& ids);
  // Any other step clears what a chained enqueue could be fed.
  void note_other_step() { last_ids_.clear(); }
  // Throws naming `what` while enqueued steps wait to be finished (the synchronous calls must not run
  // between a pipelined step and its finish_greedy).
  void require_idle(const char* what) const;

 private:
  ArgmaxStep argmax_;
  int64_t block_size_;
  std::deque<std::vector<int32_t>> unfinished_;  // per enqueue: steps * rows ids, step by step
  std::vector<int32_t> last_ids_;                 // the last greedy step's ids, one per row
};

}  // namespace synaptix::engine
