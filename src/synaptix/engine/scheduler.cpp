#include "synaptix/engine/scheduler.h"

#include <algorithm>

#include "synaptix/core/error.h"

namespace synaptix::engine {

Scheduler::Scheduler(SchedulerConfig cfg, int64_t num_blocks)
    : cfg_(cfg), allocator_(num_blocks, cfg.prefix_caching) {
  if (cfg_.block_size <= 0) fail("scheduler: block_size must be positive, got ", cfg_.block_size);
  if (cfg_.max_running <= 0) fail("scheduler: max_running must be positive, got ", cfg_.max_running);
  if (cfg_.max_batched_tokens <= 0) {
    fail("scheduler: max_batched_tokens must be positive, got ", cfg_.max_batched_tokens);
  }
}

void Scheduler::add(std::unique_ptr<Sequence> seq) {
  if (seq->tokens.empty()) fail("scheduler: sequence ", seq->id, " has no tokens");
  waiting_.push_back(std::move(seq));
}

int64_t Scheduler::blocks_needed(const Sequence& s, int64_t num_tokens) const {
  const int64_t total = (s.num_computed + num_tokens + cfg_.block_size - 1) / cfg_.block_size;
  return std::max<int64_t>(0, total - static_cast<int64_t>(s.blocks.size()));
}

bool Scheduler::grow(Sequence& s, int64_t num_tokens) {
  const int64_t need = blocks_needed(s, num_tokens);
  if (need > allocator_.num_available()) return false;
  for (int64_t i = 0; i < need; ++i) s.blocks.push_back(*allocator_.allocate());
  return true;
}

int64_t Scheduler::blocks_missing(const Sequence& s, int64_t positions) const {
  const int64_t total = (positions + cfg_.block_size - 1) / cfg_.block_size;
  return std::max<int64_t>(0, total - static_cast<int64_t>(s.blocks.size()));
}

bool Scheduler::reserve(Sequence& s, int64_t positions) {
  const int64_t need = blocks_missing(s, positions);
  if (need > allocator_.num_available()) return false;
  for (int64_t i = 0; i < need; ++i) s.blocks.push_back(*allocator_.allocate());
  return true;
}

void Scheduler::admit_cached_prefix(Sequence& s) {
  const int64_t bs = cfg_.block_size;
  const int64_t prompt_left = s.prompt_len;  // stats count prompt tokens only
  stats_.prompt_tokens_admitted += prompt_left;
  if (!allocator_.prefix_caching()) return;
  // At least one token must run to produce logits, so a fully cached sequence recomputes its last block.
  const int64_t max_hits = (static_cast<int64_t>(s.tokens.size()) - 1) / bs;
  for (int64_t b = 0; b < max_hits; ++b) {
    if (static_cast<int64_t>(s.block_hashes.size()) <= b) {
      const BlockHash parent = b == 0 ? BlockHash() : s.block_hashes[static_cast<size_t>(b - 1)];
      s.block_hashes.push_back(hash_block(parent, std::span(s.tokens).subspan(static_cast<size_t>(b * bs),
                                                                              static_cast<size_t>(bs))));
    }
    auto hit = allocator_.acquire_cached(s.block_hashes[static_cast<size_t>(b)]);
    if (!hit) break;
    s.blocks.push_back(*hit);
    s.num_computed += bs;
  }
  s.num_cached_prompt_tokens = std::min(s.num_computed, s.prompt_len);
  stats_.prompt_tokens_cached += s.num_cached_prompt_tokens;
}

void Scheduler::release_blocks(Sequence& s) {
  // Tail first, so that the least recently used order evicts the ends of prefixes before their beginnings.
  for (auto it = s.blocks.rbegin(); it != s.blocks.rend(); ++it) allocator_.release(*it);
  s.blocks.clear();
  s.num_computed = 0;
}

void Scheduler::preempt(size_t i) {
  std::unique_ptr<Sequence> s = std::move(running_[i]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
  release_blocks(*s);
  s->num_preemptions++;
  stats_.preemptions++;
  waiting_.push_front(std::move(s));
}

std::vector<ScheduledChunk> Scheduler::schedule(std::vector<uint64_t>* preempted) {
  std::vector<ScheduledChunk> out;
  int64_t budget = cfg_.max_batched_tokens;
  bool any_preempted = false;

  // Running sequences first, oldest first: their decode tokens (or the rest of a chunked prefill).
  size_t i = 0;
  while (i < running_.size() && budget > 0) {
    Sequence& s = *running_[i];
    const int64_t n = std::min(s.num_pending(), budget);
    if (n <= 0) {
      ++i;
      continue;
    }
    bool self_preempted = false;
    while (!grow(s, n)) {
      const size_t last = running_.size() - 1;
      if (preempted) preempted->push_back(running_[last]->id);
      any_preempted = true;
      if (last == i) {
        preempt(i);
        self_preempted = true;
        break;
      }
      preempt(last);
    }
    if (self_preempted) break;  // everything after i was preempted before it
    out.push_back({&s, s.num_computed, n});
    budget -= n;
    ++i;
  }

  // Then admissions, in arrival order, unless this step had to preempt (they would only thrash).
  while (!any_preempted && budget > 0 && !waiting_.empty() &&
         static_cast<int64_t>(running_.size()) < cfg_.max_running) {
    Sequence& s = *waiting_.front();
    if (s.blocks.empty()) admit_cached_prefix(s);
    const int64_t n = std::min(s.num_pending(), budget);
    if (!grow(s, n)) {
      // Keep it waiting without holding blocks, so what it acquired stays evictable for others.
      const int64_t cached = s.num_cached_prompt_tokens;
      release_blocks(s);
      stats_.prompt_tokens_admitted -= s.prompt_len;
      stats_.prompt_tokens_cached -= cached;
      break;
    }
    out.push_back({&s, s.num_computed, n});
    budget -= n;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  return out;
}

void Scheduler::commit(const std::vector<ScheduledChunk>& chunks) {
  const int64_t bs = cfg_.block_size;
  for (const ScheduledChunk& c : chunks) {
    Sequence& s = *c.seq;
    s.num_computed = c.start + c.num_tokens;
    if (!allocator_.prefix_caching()) continue;
    // Blocks that became full in this step: hash (chained on the previous block) and publish them.
    for (int64_t b = c.start / bs; b < s.num_computed / bs; ++b) {
      if (static_cast<int64_t>(s.block_hashes.size()) <= b) {
        const BlockHash parent = b == 0 ? BlockHash() : s.block_hashes[static_cast<size_t>(b - 1)];
        s.block_hashes.push_back(hash_block(parent, std::span(s.tokens).subspan(static_cast<size_t>(b * bs),
                                                                                static_cast<size_t>(bs))));
      }
      allocator_.publish(s.blocks[static_cast<size_t>(b)], s.block_hashes[static_cast<size_t>(b)]);
    }
  }
}

std::unique_ptr<Sequence> Scheduler::remove(uint64_t id) {
  std::unique_ptr<Sequence> s;
  auto rit = std::find_if(running_.begin(), running_.end(), [&](const auto& p) { return p->id == id; });
  if (rit != running_.end()) {
    s = std::move(*rit);
    running_.erase(rit);
  } else {
    auto wit = std::find_if(waiting_.begin(), waiting_.end(), [&](const auto& p) { return p->id == id; });
    if (wit == waiting_.end()) return nullptr;
    s = std::move(*wit);
    waiting_.erase(wit);
  }
  release_blocks(*s);
  return s;
}

}  // namespace synaptix::engine
