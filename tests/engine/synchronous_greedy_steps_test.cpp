// PipelinedGreedyStep on the CPU executor (engine/synchronous_greedy_steps): three sequences decoded greedily
// through enqueue_greedy/finish_greedy, unchained, chained and several steps per enqueue, must give the ids
// that step_argmax gives one step at a time; and the contract's refusals are the device's.
#include "synaptix/engine/synchronous_greedy_steps.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <set>

#include "synaptix/core/error.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/model/model.h"

using namespace synaptix;
using namespace synaptix::engine;

namespace {

constexpr int kSteps = 12;
constexpr int64_t kBlock = 4;

struct Decode {
  std::unique_ptr<Executor> ex;
  std::vector<std::vector<int32_t>> prompts, tables;
  std::vector<SeqChunk> batch;  // the decode step: one token per sequence
  std::vector<int32_t> next;    // its tokens
};

// Prefills three prompts of different lengths (scattered tables) and leaves the first decode step ready.
Decode prefill(const model::Model& m) {
  Decode d;
  d.ex = make_cpu_executor(m, KvConfig{48, kBlock});
  std::mt19937 rng(3);
  for (int len : {5, 11, 2}) {
    std::vector<int32_t> p(static_cast<size_t>(len));
    for (auto& t : p) t = static_cast<int32_t>(1 + rng() % static_cast<uint32_t>(m.spec.vocab_size - 1));
    d.prompts.push_back(p);
  }
  d.tables = {{3, 17, 8, 40, 9, 22}, {0, 1, 2, 30, 31, 32, 33}, {12, 44, 45, 46, 5}};
  std::vector<SeqChunk> pre;
  for (size_t i = 0; i < 3; ++i) pre.push_back({d.prompts[i], 0, d.tables[i], false});
  auto* greedy = dynamic_cast<GreedyStep*>(d.ex.get());
  greedy->step_argmax(pre, d.next);
  for (size_t i = 0; i < 3; ++i)
    d.batch.push_back({std::span<const int32_t>(&d.next[i], 1), static_cast<int64_t>(d.prompts[i].size()), d.tables[i], false});
  return d;
}

// kSteps decode steps, per_enqueue steps per enqueue (0: step_argmax one at a time); the ids step by step.
std::vector<int32_t> decode(const model::Model& m, int64_t per_enqueue) {
  Decode d = prefill(m);
  std::vector<int32_t> out, ids;
  if (per_enqueue == 0) {
    auto* greedy = dynamic_cast<GreedyStep*>(d.ex.get());
    for (int i = 0; i < kSteps; ++i) {
      greedy->step_argmax(d.batch, ids);
      out.insert(out.end(), ids.begin(), ids.end());
      d.next = ids;
      for (auto& c : d.batch) ++c.start_pos;
    }
    return out;
  }
  auto* piped = dynamic_cast<PipelinedGreedyStep*>(d.ex.get());
  EXPECT_GE(piped->max_greedy_steps(3), per_enqueue);
  EXPECT_FALSE(piped->overlaps_host());
  const int groups = kSteps / static_cast<int>(per_enqueue);
  piped->enqueue_greedy(d.batch, false, per_enqueue);  // the prefill's ids, from the host
  for (int i = 0; i < groups; ++i) {
    if (i + 1 < groups) {
      for (auto& c : d.batch) c.start_pos += per_enqueue;
      piped->enqueue_greedy(d.batch, true, per_enqueue);  // fed on the executor: d.next is stale on purpose
    }
    piped->finish_greedy(ids);
    EXPECT_EQ(ids.size(), static_cast<size_t>(3 * per_enqueue));
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

}  // namespace

TEST(SynchronousGreedySteps, EnqueuedStepsGiveTheIdsOfStepArgmax) {
  auto m = model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama");
  const std::vector<int32_t> sync = decode(*m, 0);
  ASSERT_EQ(sync.size(), static_cast<size_t>(3 * kSteps));
  // The decode must not be degenerate, or chaining the wrong ids could go unnoticed.
  EXPECT_GT(std::set<int32_t>(sync.begin(), sync.end()).size(), 3u);
  EXPECT_EQ(decode(*m, 1), sync);
  EXPECT_EQ(decode(*m, 3), sync);
  EXPECT_EQ(decode(*m, 4), sync);
}

TEST(SynchronousGreedySteps, RefusesWhatTheContractForbids) {
  auto m = model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama");
  Decode d = prefill(*m);
  auto* piped = dynamic_cast<PipelinedGreedyStep*>(d.ex.get());
  std::vector<int32_t> ids;
  std::vector<float> logits;
  EXPECT_THROW(piped->finish_greedy(ids), Error) << "nothing in flight";
  EXPECT_THROW(piped->enqueue_greedy(d.batch, false, piped->max_greedy_steps(3) + 1), Error) << "too many steps";
  EXPECT_THROW(piped->enqueue_greedy(d.batch, false, 0), Error);
  EXPECT_THROW(piped->enqueue_greedy({d.batch.data(), 2}, true, 1), Error) << "chained rows != previous rows";
  std::vector<SeqChunk> prefill_chunk = {{d.prompts[1], 0, d.tables[1], false}};
  EXPECT_THROW(piped->enqueue_greedy(prefill_chunk, false, 2), Error) << "several steps of a prefill chunk";
  std::vector<SeqChunk> at_end = d.batch;
  at_end[2].start_pos = static_cast<int64_t>(d.tables[2].size()) * kBlock - 2;  // 2 positions left
  EXPECT_THROW(piped->enqueue_greedy(at_end, false, 3), Error) << "past the block table";

  piped->enqueue_greedy(d.batch, false, 1);
  for (auto& c : d.batch) ++c.start_pos;
  piped->enqueue_greedy(d.batch, true, 2);
  EXPECT_THROW(piped->enqueue_greedy(d.batch, true, 1), Error) << "a third enqueue in flight";
  EXPECT_THROW(d.ex->step(d.batch, logits), Error) << "a synchronous step between enqueue and finish";
  EXPECT_THROW(dynamic_cast<GreedyStep*>(d.ex.get())->step_argmax(d.batch, ids), Error);
  piped->finish_greedy(ids);
  EXPECT_EQ(ids.size(), 3u);
  piped->finish_greedy(ids);
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_THROW(piped->finish_greedy(ids), Error);
  // A step that chose no greedy ids leaves nothing to chain from.
  d.ex->step(d.batch, logits);
  EXPECT_THROW(piped->enqueue_greedy(d.batch, true, 1), Error);
}
