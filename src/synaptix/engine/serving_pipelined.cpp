// The serving engine's pipelined greedy decode: while every scheduled sequence decodes greedily, steps are
// enqueued on the executor (PipelinedGreedyStep) in groups of several steps, the next group, fed on the
// executor with the ids of this one, before the host reads this one's ids. The host takes each token exactly
// as step_once does, so tokens and finish reasons are the unpipelined path's; what differs is when a step's
// tokens are read, and that steps past a stop (the group in flight) are computed and dropped.
#include <algorithm>
#include <deque>

#include "synaptix/core/error.h"
#include "synaptix/engine/serving_engine.h"

namespace synaptix::engine {

bool ServingEngine::pipelined_run_interrupted(const std::vector<Active*>& rows) {
  {
    std::lock_guard lk(mu_);
    if (stop_ || !incoming_.empty()) return true;  // arrivals wait for their prefill no longer than the run
  }
  return std::any_of(rows.begin(), rows.end(), [](const Active* a) { return a->stream->cancelled(); });
}

void ServingEngine::run_pipelined(const std::vector<ScheduledChunk>& chunks) {
  std::vector<Sequence*> seqs;
  std::vector<Active*> rows;
  for (const ScheduledChunk& c : chunks) {
    seqs.push_back(c.seq);
    rows.push_back(&active_.at(c.seq->id));
  }
  const auto R = static_cast<int64_t>(seqs.size());
  const int64_t per_launch = std::min(cfg_.greedy_steps_per_launch, piped_->max_greedy_steps(R));
  std::vector<bool> alive(seqs.size(), true);  // a finished row's later ids are dropped (its Sequence is gone)
  std::deque<int64_t> groups;  // steps of each enqueue not yet finished, oldest first
  int64_t ahead = 0;           // their sum: the positions past every row's num_computed with K/V on the way

  // Steps the next enqueue may run: the launch cap, every row's remaining max_tokens (a step per token), and
  // the blocks its positions need among the free ones (no preemption mid-run).
  auto next_steps = [&] {
    int64_t n = per_launch;
    for (size_t i = 0; i < seqs.size(); ++i) n = std::min(n, rows[i]->req.max_tokens - seqs[i]->num_output() - ahead);
    for (; n > 0; --n) {
      int64_t missing = 0;
      for (const Sequence* s : seqs) missing += scheduler_.blocks_missing(*s, s->num_computed + ahead + n);
      if (missing <= scheduler_.allocator().num_available()) break;
    }
    return n;
  };
  std::vector<SeqChunk> batch(seqs.size());
  auto enqueue = [&](bool chain, int64_t n) {
    for (size_t i = 0; i < seqs.size(); ++i) {
      Sequence& s = *seqs[i];
      const int64_t start = s.num_computed + ahead;
      if (!scheduler_.reserve(s, start + n)) fail("serving: no KV blocks for a ", n, "-step decode of sequence ", s.id);
      // Unchained, the input is the sequence's last token (its chunk completes it); chained, it is ignored.
      batch[i] = {std::span<const int32_t>(&s.tokens.back(), 1), start, std::span<const int32_t>(s.blocks), false};
    }
    piped_->enqueue_greedy(batch, chain, n);
    groups.push_back(n);
    ahead += n;
    ++pipelined_launches_;
  };

  std::vector<int32_t> ids;
  try {
    const int64_t first = next_steps();
    if (first < 1) fail("serving: a scheduled decode step has no token or block left to run");
    enqueue(false, first);
    bool chaining = !pipelined_run_interrupted(rows);
    if (chaining) {
      if (const int64_t n = next_steps(); n > 0) enqueue(true, n);
    }
    while (!groups.empty()) {
      piped_->finish_greedy(ids);
      const int64_t n = groups.front();
      groups.pop_front();
      if (static_cast<int64_t>(ids.size()) != n * R)
        fail("executor returned ", ids.size(), " ids for ", n, " greedy steps of ", R, " sequences");
      // Step by step, as the unpipelined path would have taken them.
      std::vector<std::pair<uint64_t, FinishReason>> done;
      // Steps of this group whose inputs each row keeps: all n for a row still running, up to and including
      // its last step for a row that finishes here (as the unpipelined path commits a finishing chunk), 0 for
      // a row finished in an earlier group.
      std::vector<int64_t> kept(seqs.size(), 0);
      for (size_t i = 0; i < seqs.size(); ++i) kept[i] = alive[i] ? n : 0;
      for (int64_t st = 0; st < n; ++st) {
        for (size_t i = 0; i < seqs.size(); ++i) {
          if (!alive[i]) continue;
          const FinishReason r = take_token(*seqs[i], *rows[i], ids[static_cast<size_t>(st * R) + i], 0.0f);
          if (r != FinishReason::None) {
            alive[i] = false;
            kept[i] = st + 1;
            done.emplace_back(seqs[i]->id, r);
          }
        }
      }
      // The group's inputs have K/V now: the rows advance over them (and publish their newly full blocks,
      // a finishing row's too, before finish() releases it).
      std::vector<ScheduledChunk> ran;
      for (size_t i = 0; i < seqs.size(); ++i)
        if (kept[i] > 0) ran.push_back({seqs[i], seqs[i]->num_computed, kept[i]});
      scheduler_.commit(ran);
      ahead -= n;
      steps_ += n;
      steps_without_logits_ += n;
      pipelined_steps_ += n;
      // The rows of a group in flight are fixed: after a finish the run only drains. Nothing allocates blocks
      // before the drain, so a finished row's blocks, released here, are not reused while a step writes them.
      for (auto& [id, r] : done) finish(id, r);
      if (!done.empty() || (chaining && pipelined_run_interrupted(rows))) chaining = false;
      if (chaining) {
        if (const int64_t m = next_steps(); m > 0) enqueue(true, m);
        else chaining = false;
      }
      update_snapshot();
    }
  } catch (...) {
    // The executor takes no other step while enqueues wait to be finished.
    for (size_t i = 0; i < groups.size(); ++i) {
      try {
        piped_->finish_greedy(ids);
      } catch (...) {
      }
    }
    throw;
  }
}

}  // namespace synaptix::engine
