#pragma once
// Continuous batching: each step the scheduler picks, within `max_batched_tokens` and `max_running`, the
// decode token of every running sequence and prefill chunks of admitted ones (chunked prefill: a long prompt
// is spread over several steps so that decodes keep flowing). It assigns KV blocks, reuses cached prefix
// blocks on admission, and when blocks run out preempts the most recently admitted sequence: its blocks are
// released and it goes back to the front of the queue to be recomputed later (never dropped).
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "synaptix/engine/block_allocator.h"
#include "synaptix/engine/request.h"

namespace synaptix::engine {

struct SchedulerConfig {
  int64_t block_size = 16;
  int64_t max_running = 64;
  int64_t max_batched_tokens = 256;  // tokens per step, decode and prefill together
  bool prefix_caching = true;
};

struct ScheduledChunk {
  Sequence* seq = nullptr;
  int64_t start = 0;      // == seq->num_computed when scheduled
  int64_t num_tokens = 0;  // tokens [start, start + num_tokens) run this step
  bool completes() const { return start + num_tokens == static_cast<int64_t>(seq->tokens.size()); }
};

struct SchedulerStats {
  int64_t preemptions = 0;
  int64_t prompt_tokens_admitted = 0;  // prompt tokens of admissions (re-admissions after preemption too)
  int64_t prompt_tokens_cached = 0;    // ... of which served by the prefix cache
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig cfg, int64_t num_blocks);

  // A sequence that can never fit in the KV cache on its own is refused here (it would preempt itself forever).
  int64_t max_tokens_per_sequence() const { return allocator_.num_blocks() * cfg_.block_size; }
  void add(std::unique_ptr<Sequence> seq);

  // The chunks of the next step, in order; empty when there is nothing to run. `preempted` receives the ids
  // of sequences sent back to the queue.
  std::vector<ScheduledChunk> schedule(std::vector<uint64_t>* preempted = nullptr);
  // After the executor ran `chunks`: marks their tokens computed and publishes newly full blocks.
  void commit(const std::vector<ScheduledChunk>& chunks);
  // Blocks a running sequence lacks for positions [0, positions), and allocating them (false, allocating none,
  // when fewer are free): a multi-step decode writes K/V ahead of commit().
  int64_t blocks_missing(const Sequence& s, int64_t positions) const;
  bool reserve(Sequence& s, int64_t positions);
  // Removes a sequence (finished or cancelled) wherever it is and releases its blocks.
  std::unique_ptr<Sequence> remove(uint64_t id);

  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  bool idle() const { return running_.empty() && waiting_.empty(); }
  const BlockAllocator& allocator() const { return allocator_; }
  const SchedulerStats& stats() const { return stats_; }
  const SchedulerConfig& config() const { return cfg_; }

 private:
  int64_t blocks_needed(const Sequence& s, int64_t num_tokens) const;
  bool grow(Sequence& s, int64_t num_tokens);  // allocates blocks up to num_computed + num_tokens
  void admit_cached_prefix(Sequence& s);
  void release_blocks(Sequence& s);
  void preempt(size_t running_index);

  SchedulerConfig cfg_;
  BlockAllocator allocator_;
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;  // admission order: the back is preempted first
  SchedulerStats stats_;
};

}  // namespace synaptix::engine
