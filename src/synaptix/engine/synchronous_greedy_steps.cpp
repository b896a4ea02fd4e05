#include "synaptix/engine/synchronous_greedy_steps.h"

#include "synaptix/core/error.h"

namespace synaptix::engine {

void SynchronousGreedySteps::enqueue(std::span<const SeqChunk> chunks, bool chain_tokens, int64_t steps) {
  if (unfinished_.size() >= 2) fail("executor: two pipelined steps are in flight; finish_greedy() one first");
  const auto rows = static_cast<int64_t>(chunks.size());
  if (rows == 0) fail("executor: enqueue_greedy of an empty step");
  if (steps < 1 || steps > max_steps(rows))
    fail("executor: ", steps, " greedy steps in one enqueue; this step shape allows 1 to ", max_steps(rows),
         " (max_greedy_steps)");
  bool single_tokens = true;
  for (const SeqChunk& c : chunks) single_tokens = single_tokens && c.tokens.size() == 1;
  if (chain_tokens && (!single_tokens || static_cast<size_t>(rows) != last_ids_.size()))
    fail("executor: a chained step needs one token per sequence and as many sequences as the previous greedy "
         "step had rows (", last_ids_.size(), "); got ", rows, " sequences", single_tokens ? "" : " not all single-token");
  if (steps > 1 && !single_tokens)
    fail("executor: ", steps, " greedy steps in one enqueue need one token per sequence (a decode step)");
  // Refused before any step runs, so a failed enqueue writes no K/V.
  for (size_t i = 0; i < chunks.size(); ++i) {
    const SeqChunk& c = chunks[i];
    const int64_t end = c.start_pos + static_cast<int64_t>(c.tokens.size()) + steps - 1;
    if (end > static_cast<int64_t>(c.block_table.size()) * block_size_)
      fail("executor: chunk ", i, " of a ", steps, "-step greedy enqueue reaches position ", end,
           " but its block table covers only ", static_cast<int64_t>(c.block_table.size()) * block_size_);
  }
  std::vector<SeqChunk> step(chunks.begin(), chunks.end());
  std::vector<int32_t> fed, ids, all;
  for (int64_t s = 0; s < steps; ++s) {
    if (s > 0 || chain_tokens) {
      fed = s == 0 ? last_ids_ : ids;  // a copy: the step overwrites ids while it reads its tokens
      for (size_t r = 0; r < step.size(); ++r) {
        step[r].tokens = std::span<const int32_t>(&fed[r], 1);
        step[r].start_pos = chunks[r].start_pos + s;
      }
    }
    argmax_(step, ids);
    if (s > 0 && ids.size() != static_cast<size_t>(rows))
      fail("executor: a greedy step of ", rows, " single-token sequences returned ", ids.size(), " ids");
    all.insert(all.end(), ids.begin(), ids.end());
  }
  last_ids_ = ids;
  unfinished_.push_back(std::move(all));
}

void SynchronousGreedySteps::finish(std::vector<int32_t>& ids) {
  if (unfinished_.empty()) fail("executor: finish_greedy() with no step in flight");
  ids = std::move(unfinished_.front());
  unfinished_.pop_front();
}

void SynchronousGreedySteps::note_greedy_ids(const std::vector<int32_t>& ids) { last_ids_ = ids; }

void SynchronousGreedySteps::require_idle(const char* what) const {
  if (!unfinished_.empty())
    fail("executor: ", what, "() while ", unfinished_.size(),
         " pipelined step(s) are in flight; finish_greedy() them first");
}

}  // namespace synaptix::engine
