// The scheduler against a simulated paged KV store: every step writes each chunk's tokens into the positions
// its block table names, and before that checks that the positions it claims are cached really hold that
// sequence's tokens. This catches any wrong block table, shared block overwritten, or prefix-cache mismatch.
#include "synaptix/engine/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

using namespace synaptix::engine;

namespace {

struct Sim {
  SchedulerConfig cfg;
  Scheduler sched;
  std::vector<std::vector<int32_t>> kv;  // [block][offset] -> token id written there (-1: never)
  std::map<uint64_t, int64_t> max_out;   // per sequence: output tokens to generate
  std::map<uint64_t, std::vector<int32_t>> finished;
  int64_t steps = 0, preempt_events = 0;

  Sim(SchedulerConfig c, int64_t num_blocks)
      : cfg(c), sched(c, num_blocks),
        kv(static_cast<size_t>(num_blocks), std::vector<int32_t>(static_cast<size_t>(c.block_size), -1)) {}

  void add(uint64_t id, std::vector<int32_t> prompt, int64_t out) {
    auto s = std::make_unique<Sequence>();
    s->id = id;
    s->prompt_len = static_cast<int64_t>(prompt.size());
    s->tokens = std::move(prompt);
    max_out[id] = out;
    sched.add(std::move(s));
  }

  // The "model": the next token is a function of the whole context, so a wrong context shows up.
  static int32_t next_token(const std::vector<int32_t>& t) {
    uint64_t h = 1469598103934665603ull;
    for (int32_t x : t) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
    return static_cast<int32_t>(h % 1000);
  }

  void step() {
    std::vector<uint64_t> pre;
    auto chunks = sched.schedule(&pre);
    preempt_events += static_cast<int64_t>(pre.size());
    ASSERT_FALSE(chunks.empty()) << "scheduler stalled with work left";
    int64_t total = 0;
    const int64_t bs = cfg.block_size;
    for (const auto& c : chunks) {
      const Sequence& s = *c.seq;
      total += c.num_tokens;
      ASSERT_GE(c.num_tokens, 1);
      ASSERT_EQ(c.start, s.num_computed);
      ASSERT_LE(c.start + c.num_tokens, static_cast<int64_t>(s.tokens.size()));
      ASSERT_GE(static_cast<int64_t>(s.blocks.size()) * bs, c.start + c.num_tokens);
      for (int64_t p = 0; p < c.start; ++p) {
        ASSERT_EQ(kv[s.blocks[p / bs]][p % bs], s.tokens[p]) << "seq " << s.id << " pos " << p;
      }
      for (int64_t p = c.start; p < c.start + c.num_tokens; ++p) {
        const int32_t b = s.blocks[p / bs];
        ASSERT_EQ(sched.allocator().refcount(b), 1) << "writing into shared block " << b;
      }
    }
    ASSERT_LE(total, cfg.max_batched_tokens);
    ASSERT_LE(sched.num_running(), cfg.max_running);
    for (const auto& c : chunks) {
      for (int64_t p = c.start; p < c.start + c.num_tokens; ++p) {
        kv[c.seq->blocks[p / bs]][p % bs] = c.seq->tokens[p];
      }
    }
    sched.commit(chunks);
    std::vector<uint64_t> done;
    for (const auto& c : chunks) {
      if (!c.completes()) continue;
      Sequence& s = *c.seq;
      s.tokens.push_back(next_token(s.tokens));
      if (s.num_output() >= max_out[s.id]) done.push_back(s.id);
    }
    for (uint64_t id : done) {
      auto s = sched.remove(id);
      finished[id] = s->tokens;
    }
    ++steps;
  }

  void run(int64_t max_steps = 100000) {
    while (!sched.idle() && steps < max_steps) {
      step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    ASSERT_TRUE(sched.idle());
    EXPECT_EQ(sched.allocator().num_referenced(), 0) << "blocks leaked";
  }
};

std::vector<int32_t> expected(std::vector<int32_t> t, int64_t out) {
  for (int64_t i = 0; i < out; ++i) t.push_back(Sim::next_token(t));
  return t;
}

std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t n) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& x : p) x = static_cast<int32_t>(rng() % 1000);
  return p;
}

}  // namespace

TEST(Scheduler, MixesDecodeWithChunkedPrefillWithinBudget) {
  Sim sim({.block_size = 4, .max_running = 8, .max_batched_tokens = 10, .prefix_caching = false}, 64);
  std::mt19937 rng(1);
  sim.add(1, random_prompt(rng, 3), 6);
  sim.step();  // prefill of 1 (3 tokens)
  sim.add(2, random_prompt(rng, 25), 3);
  auto chunks = sim.sched.schedule();
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].seq->id, 1u);  // the decode comes first
  EXPECT_EQ(chunks[0].num_tokens, 1);
  EXPECT_EQ(chunks[1].seq->id, 2u);
  EXPECT_EQ(chunks[1].num_tokens, 9);  // the rest of the budget: a prefill chunk
  EXPECT_FALSE(chunks[1].completes());
  sim.sched.commit(chunks);
  // Removing sequences mid-flight (a cancelled request) releases all their blocks.
  auto s1 = sim.sched.remove(1);
  auto s2 = sim.sched.remove(2);
  EXPECT_EQ(sim.sched.allocator().num_referenced(), 0);
}

TEST(Scheduler, ManySequencesOfMixedLengthsComplete) {
  Sim sim({.block_size = 4, .max_running = 6, .max_batched_tokens = 16, .prefix_caching = false}, 200);
  std::mt19937 rng(2);
  std::map<uint64_t, std::vector<int32_t>> want;
  for (uint64_t id = 0; id < 40; ++id) {
    auto p = random_prompt(rng, 1 + static_cast<int64_t>(rng() % 40));
    const int64_t out = 1 + static_cast<int64_t>(rng() % 12);
    want[id] = expected(p, out);
    sim.add(id, p, out);
  }
  sim.run();
  ASSERT_EQ(sim.finished.size(), want.size());
  for (auto& [id, t] : want) EXPECT_EQ(sim.finished[id], t) << "seq " << id;
}

TEST(Scheduler, KvExhaustionPreemptsAndRecomputesEverything) {
  // 12 blocks of 4 = 48 positions for sequences of up to 40 tokens each: constant preemption.
  Sim sim({.block_size = 4, .max_running = 8, .max_batched_tokens = 32, .prefix_caching = true}, 12);
  std::mt19937 rng(3);
  std::map<uint64_t, std::vector<int32_t>> want;
  for (uint64_t id = 0; id < 20; ++id) {
    auto p = random_prompt(rng, 5 + static_cast<int64_t>(rng() % 20));
    const int64_t out = 5 + static_cast<int64_t>(rng() % 15);
    want[id] = expected(p, out);
    sim.add(id, p, out);
  }
  sim.run();
  EXPECT_GT(sim.sched.stats().preemptions, 0);
  EXPECT_EQ(sim.preempt_events, sim.sched.stats().preemptions);
  ASSERT_EQ(sim.finished.size(), want.size());
  for (auto& [id, t] : want) EXPECT_EQ(sim.finished[id], t) << "seq " << id;
}

TEST(Scheduler, SharedPrefixIsServedFromCache) {
  Sim sim({.block_size = 4, .max_running = 4, .max_batched_tokens = 64, .prefix_caching = true}, 64);
  std::mt19937 rng(4);
  const auto prefix = random_prompt(rng, 12);  // three full blocks
  auto a = prefix, b = prefix;
  a.push_back(1);
  b.push_back(2);
  b.push_back(3);
  sim.add(1, a, 2);
  sim.run();
  EXPECT_EQ(sim.sched.stats().prompt_tokens_cached, 0);
  sim.add(2, b, 3);
  sim.run();
  EXPECT_EQ(sim.sched.stats().prompt_tokens_cached, 12);
  EXPECT_EQ(sim.finished[2], expected(b, 3));
  // An identical prompt made only of full blocks still recomputes its last block to get logits.
  sim.add(3, prefix, 1);
  sim.run();
  EXPECT_EQ(sim.sched.stats().prompt_tokens_cached, 12 + 8);
  EXPECT_EQ(sim.finished[3], expected(prefix, 1));
}

TEST(Scheduler, ConcurrentSharedPrefixesUnderPressureStayCorrect) {
  Sim sim({.block_size = 2, .max_running = 5, .max_batched_tokens = 12, .prefix_caching = true}, 30);
  std::mt19937 rng(5);
  std::vector<std::vector<int32_t>> prefixes = {random_prompt(rng, 9), random_prompt(rng, 4)};
  std::map<uint64_t, std::vector<int32_t>> want;
  for (uint64_t id = 0; id < 30; ++id) {
    auto p = prefixes[id % 2];
    auto tail = random_prompt(rng, static_cast<int64_t>(rng() % 6));
    p.insert(p.end(), tail.begin(), tail.end());
    const int64_t out = 1 + static_cast<int64_t>(rng() % 8);
    want[id] = expected(p, out);
    sim.add(id, p, out);
  }
  sim.run();
  EXPECT_GT(sim.sched.stats().prompt_tokens_cached, 0);
  ASSERT_EQ(sim.finished.size(), want.size());
  for (auto& [id, t] : want) EXPECT_EQ(sim.finished[id], t) << "seq " << id;
}

TEST(Scheduler, RemoveReleasesWaitingAndRunning) {
  Sim sim({.block_size = 4, .max_running = 1, .max_batched_tokens = 64, .prefix_caching = true}, 16);
  sim.add(1, {1, 2, 3, 4, 5}, 4);
  sim.add(2, {6, 7, 8}, 4);
  sim.step();
  EXPECT_EQ(sim.sched.num_running(), 1);
  EXPECT_EQ(sim.sched.num_waiting(), 1);
  EXPECT_NE(sim.sched.remove(2), nullptr);
  EXPECT_NE(sim.sched.remove(1), nullptr);
  EXPECT_EQ(sim.sched.remove(1), nullptr);
  EXPECT_TRUE(sim.sched.idle());
  EXPECT_EQ(sim.sched.allocator().num_referenced(), 0);
}
