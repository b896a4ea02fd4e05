// The serving engine's pipelined greedy decode (engine/serving_pipelined.cpp) on the CPU executor's
// PipelinedGreedyStep: the same requests served with it (one step and several steps per enqueue) and without
// it must give every request the same tokens and the same finish reason: concurrent requests of different
// lengths, end-of-sequence and stop tokens met inside a group of steps, max_tokens, min_tokens and logprobs
// requests (which take the host path), requests arriving mid-run, and a KV cache too small for everyone.
#include <gtest/gtest.h>

#include <random>

#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/serving_engine.h"
#include "synaptix/model/model.h"

using namespace synaptix;
using namespace synaptix::engine;
using namespace std::chrono_literals;

namespace {

struct Submission {
  GenerationRequest req;
  bool late = false;  // submitted once the first request has produced a token (the engine is mid-run)
};

struct Served {
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::None;
  bool operator==(const Served&) const = default;
};

struct Mode {
  Pipelining pipelining;
  int64_t steps_per_launch;
};

std::vector<Served> serve(const model::Model& m, Mode mode, int64_t num_blocks, int64_t max_running,
                          const std::vector<int64_t>& eos, const std::vector<Submission>& subs,
                          EngineSnapshot* snap = nullptr) {
  auto ex = make_cpu_executor(m, KvConfig{num_blocks, 8});
  ServingConfig cfg;
  cfg.scheduler = {.block_size = 8, .max_running = max_running, .max_batched_tokens = 40, .prefix_caching = true};
  cfg.pipelining = mode.pipelining;
  cfg.greedy_steps_per_launch = mode.steps_per_launch;
  ServingEngine engine(*ex, cfg, eos);
  std::vector<std::shared_ptr<RequestStream>> streams(subs.size());
  std::vector<std::vector<TokenEvent>> events(subs.size());
  for (size_t i = 0; i < subs.size(); ++i)
    if (!subs[i].late) streams[i] = engine.submit(subs[i].req);
  auto read_until_finished = [&](size_t i, size_t at_least) {
    while (events[i].size() < at_least) {
      const auto st = streams[i]->read(events[i], 30s);
      if (st == RequestStream::Status::Finished) return;
      if (st == RequestStream::Status::Timeout) {
        ADD_FAILURE() << "request " << i << " produced nothing for 30 s";
        return;
      }
    }
  };
  read_until_finished(0, 1);
  for (size_t i = 0; i < subs.size(); ++i)
    if (subs[i].late) streams[i] = engine.submit(subs[i].req);
  std::vector<Served> out(subs.size());
  for (size_t i = 0; i < subs.size(); ++i) {
    read_until_finished(i, SIZE_MAX);
    for (const TokenEvent& e : events[i]) out[i].tokens.push_back(e.token);
    out[i].reason = streams[i]->finish_reason();
  }
  const EngineSnapshot s = engine.snapshot();
  EXPECT_EQ(s.kv_blocks_used, 0) << "KV blocks leaked";
  EXPECT_EQ(s.running + s.waiting, 0);
  if (snap) *snap = s;
  return out;
}

std::vector<Submission> requests(int n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Submission> subs;
  for (int i = 0; i < n; ++i) {
    Submission s;
    const int len = 1 + static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) s.req.prompt.push_back(static_cast<int32_t>(1 + rng() % static_cast<uint32_t>(vocab - 1)));
    s.req.max_tokens = 1 + static_cast<int64_t>(rng() % 30);
    s.late = i % 4 == 3;
    subs.push_back(std::move(s));
  }
  subs[0].req.max_tokens = 40;  // long enough that the late ones arrive while it runs
  return subs;
}

void check_pipelined_equals_unpipelined(const std::string& name) {
  SCOPED_TRACE(name);
  auto m = model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + name);
  std::vector<Submission> subs = requests(12, m->spec.vocab_size, 5);
  const Mode off{Pipelining::Off, 8};
  // Stops the requests will meet: tokens they produce mid-way when nothing stops them.
  const std::vector<Served> free_run = serve(*m, off, 256, 8, {}, subs);
  const std::vector<int32_t>& first = free_run[0].tokens;
  ASSERT_GE(first.size(), 12u);
  const std::vector<int64_t> eos = {first[9]};  // an end-of-sequence token, not output
  for (size_t i = 1; i < subs.size(); ++i) {
    const auto& t = free_run[i].tokens;
    if (i % 3 == 1 && t.size() > 4) subs[i].req.stop_token_ids = {t[t.size() / 2]};
    if (i % 3 == 2) subs[i].req.ignore_eos = true;
  }
  subs[5].req.min_tokens = 3;  // the host path masks end-of-sequence for its first tokens
  subs[7].req.logprobs = true;  // the host path while it runs

  EngineSnapshot snap_off, snap_one, snap_multi, snap_auto;
  const std::vector<Served> want = serve(*m, off, 256, 8, eos, subs, &snap_off);
  int stopped_early = 0;
  for (size_t i = 0; i < want.size(); ++i)
    stopped_early += want[i].reason == FinishReason::Stop && static_cast<int64_t>(want[i].tokens.size()) < subs[i].req.max_tokens;
  EXPECT_GE(stopped_early, 2) << "the stops must be met, or they test nothing";
  EXPECT_EQ(snap_off.pipelined_steps, 0);

  const std::vector<Served> one = serve(*m, {Pipelining::On, 1}, 256, 8, eos, subs, &snap_one);
  const std::vector<Served> multi = serve(*m, {Pipelining::On, 8}, 256, 8, eos, subs, &snap_multi);
  const std::vector<Served> odd = serve(*m, {Pipelining::On, 3}, 256, 8, eos, subs);
  for (size_t i = 0; i < subs.size(); ++i) {
    EXPECT_EQ(one[i], want[i]) << "request " << i << ", one step per enqueue";
    EXPECT_EQ(multi[i], want[i]) << "request " << i << ", 8 steps per enqueue";
    EXPECT_EQ(odd[i], want[i]) << "request " << i << ", 3 steps per enqueue";
  }
  EXPECT_GT(snap_one.pipelined_steps, 0);
  EXPECT_EQ(snap_one.pipelined_steps, snap_one.pipelined_launches);
  EXPECT_GT(snap_multi.pipelined_steps, snap_multi.pipelined_launches) << "no enqueue ran several steps";
  EXPECT_EQ(snap_multi.generated_tokens, snap_off.generated_tokens);
  // Auto: the CPU executor's enqueue runs at once, so serving does not pipeline on it.
  serve(*m, {Pipelining::Auto, 8}, 256, 8, eos, subs, &snap_auto);
  EXPECT_EQ(snap_auto.pipelined_steps, 0);
}

}  // namespace

TEST(ServingPipelined, SameTokensAndFinishReasonsAsUnpipelinedLlama) { check_pipelined_equals_unpipelined("llama"); }

TEST(ServingPipelined, SameTokensAndFinishReasonsAsUnpipelinedQwen3AndMoe) {
  check_pipelined_equals_unpipelined("qwen3");
  check_pipelined_equals_unpipelined("mixtral-moe");
}

// 12 blocks of 8 positions for 16 requests: the host path preempts, the pipelined runs take fewer steps per
// enqueue where the free blocks do not cover more.
TEST(ServingPipelined, SameTokensWhenTheKvCacheRunsShort) {
  auto m = model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama");
  std::vector<Submission> subs = requests(16, m->spec.vocab_size, 9);
  for (auto& s : subs) s.req.ignore_eos = true;
  subs[0].req.max_tokens = 30;
  EngineSnapshot off_snap, on_snap;
  const auto want = serve(*m, {Pipelining::Off, 8}, 12, 16, m->spec.eos_token_ids, subs, &off_snap);
  const auto got = serve(*m, {Pipelining::On, 8}, 12, 16, m->spec.eos_token_ids, subs, &on_snap);
  for (size_t i = 0; i < subs.size(); ++i) {
    EXPECT_EQ(got[i], want[i]) << "request " << i;
    EXPECT_EQ(want[i].tokens.size(), static_cast<size_t>(subs[i].req.max_tokens)) << "request " << i;
  }
  EXPECT_GT(off_snap.preemptions, 0);
  EXPECT_GT(on_snap.pipelined_steps, 0);
}

// A sequence that finishes inside a multi-step group publishes the blocks that group filled, as the
// unpipelined path does: a follow-up whose prompt repeats the answer finds the same cached prefix.
TEST(ServingPipelined, AFinishingSequencePublishesItsFullBlocks) {
  auto m = model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama");
  auto cached_for_follow_up = [&](Mode mode) {
    auto ex = make_cpu_executor(*m, KvConfig{64, 8});
    ServingConfig cfg;
    cfg.scheduler = {.block_size = 8, .max_running = 4, .max_batched_tokens = 40, .prefix_caching = true};
    cfg.pipelining = mode.pipelining;
    cfg.greedy_steps_per_launch = mode.steps_per_launch;
    ServingEngine engine(*ex, cfg, {});
    auto run = [&](const GenerationRequest& r) {
      auto stream = engine.submit(r);
      std::vector<TokenEvent> ev;
      for (auto st = RequestStream::Status::Tokens; st == RequestStream::Status::Tokens;) st = stream->read(ev, 30s);
      std::vector<int32_t> out;
      for (const TokenEvent& e : ev) out.push_back(e.token);
      return out;
    };
    GenerationRequest a;
    a.prompt = {5, 9, 2, 7, 11};
    a.max_tokens = 20;  // 5 + 19 inputs with K/V: three full blocks of 8, the last filled by the final group
    a.ignore_eos = true;
    const std::vector<int32_t> answer = run(a);
    EXPECT_EQ(answer.size(), 20u);
    GenerationRequest b;
    b.prompt = a.prompt;
    b.prompt.insert(b.prompt.end(), answer.begin(), answer.end());
    b.max_tokens = 1;
    const int64_t before = engine.snapshot().prompt_tokens_cached;
    run(b);
    return engine.snapshot().prompt_tokens_cached - before;
  };
  const int64_t off = cached_for_follow_up({Pipelining::Off, 8});
  EXPECT_EQ(off, 24);
  EXPECT_EQ(cached_for_follow_up({Pipelining::On, 8}), off);
  EXPECT_EQ(cached_for_follow_up({Pipelining::On, 3}), off);
}
