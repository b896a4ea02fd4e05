// The serving engine on the CUDA executor runs greedy decodes pipelined (PipelinedGreedyStep, several steps
// per launch, the next launch fed on the device): the tokens and finish reasons of the unpipelined engine.
// Concurrent requests finish together here (same max_tokens, no stops), so both engines run the same batches
// step for step once the engine has taken them all: the CUDA executor's rows are not bit-for-bit independent
// of the batch (logits within 1e-4), and the fixtures' near-tied logits would let a different batch pick
// another token. (The engine may take the submissions over two steps; the tokens then still agree unless a
// near-tie falls exactly there, which is this test's remaining exposure.) Stops (EOS, stop tokens)
// met inside a launch are checked on requests served one at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/engine/serving_engine.h"
#include "synaptix/model/model.h"

namespace {

namespace se = synaptix::engine;
using namespace std::chrono_literals;

struct Served {
  std::vector<int32_t> tokens;
  se::FinishReason reason = se::FinishReason::None;
  bool operator==(const Served&) const = default;
};

// `one_at_a_time`: each request is submitted after the previous one finished.
std::vector<Served> serve(se::Executor& ex, se::Pipelining p, int64_t per_launch, const std::vector<int64_t>& eos,
                          const std::vector<se::GenerationRequest>& reqs, bool one_at_a_time, se::EngineSnapshot* snap) {
  se::ServingConfig cfg;
  cfg.scheduler = {.block_size = 16, .max_running = 16, .max_batched_tokens = 512, .prefix_caching = false};
  cfg.pipelining = p;
  cfg.greedy_steps_per_launch = per_launch;
  se::ServingEngine engine(ex, cfg, eos);
  std::vector<Served> out(reqs.size());
  auto drain = [&](se::RequestStream& s, Served& o) {
    std::vector<se::TokenEvent> ev;
    for (;;) {
      const auto st = s.read(ev, 30s);
      if (st == se::RequestStream::Status::Finished) break;
      if (st == se::RequestStream::Status::Timeout) {
        ADD_FAILURE() << "request " << s.id() << " produced nothing for 30 s";
        break;
      }
    }
    for (const auto& e : ev) o.tokens.push_back(e.token);
    o.reason = s.finish_reason();
  };
  if (one_at_a_time) {
    for (size_t i = 0; i < reqs.size(); ++i) drain(*engine.submit(reqs[i]), out[i]);
  } else {
    std::vector<std::shared_ptr<se::RequestStream>> streams;
    for (const auto& r : reqs) streams.push_back(engine.submit(r));
    for (size_t i = 0; i < reqs.size(); ++i) drain(*streams[i], out[i]);
  }
  *snap = engine.snapshot();
  EXPECT_EQ(snap->kv_blocks_used, 0) << "KV blocks leaked";
  return out;
}

TEST(CudaServing, GreedyDecodeRunsPipelinedWithTheUnpipelinedTokens) {
  auto m = synaptix::model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama");
  se::KvConfig kv;
  kv.num_blocks = 96;
  kv.block_size = 16;
  auto ex = se::make_cuda_executor(*m, kv, 0, {});
  auto* piped = dynamic_cast<se::PipelinedGreedyStep*>(ex.get());
  ASSERT_NE(piped, nullptr);
  EXPECT_TRUE(piped->overlaps_host());
  std::vector<se::GenerationRequest> reqs;
  for (int i = 0; i < 6; ++i) {
    se::GenerationRequest r;
    for (int k = 0; k < 3 + 5 * i; ++k) r.prompt.push_back(1 + (37 * k + 101 * i) % 500);
    r.max_tokens = 29;
    r.ignore_eos = true;
    reqs.push_back(r);
  }
  se::EngineSnapshot off, on1, on8;
  const auto want = serve(*ex, se::Pipelining::Off, 8, {}, reqs, false, &off);
  EXPECT_EQ(off.pipelined_steps, 0);
  const auto one = serve(*ex, se::Pipelining::Auto, 1, {}, reqs, false, &on1);
  const auto eight = serve(*ex, se::Pipelining::Auto, 8, {}, reqs, false, &on8);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(want[i].tokens.size(), 29u);
    EXPECT_EQ(one[i], want[i]) << "request " << i << ", 1 step per launch";
    EXPECT_EQ(eight[i], want[i]) << "request " << i << ", 8 steps per launch";
  }
  // At least 28 decode steps after the prefill, all pipelined, and no logits reach the host. The engine
  // thread may take the six submissions in more than one step (it wakes on the first), so the counts are
  // bounds: exactly 28 steps in (28 + per - 1) / per launches when it takes them together.
  const int64_t per = std::min<int64_t>(8, piped->max_greedy_steps(6));
  EXPECT_GE(on1.pipelined_steps, 28);
  EXPECT_EQ(on1.pipelined_launches, on1.pipelined_steps);
  EXPECT_GE(on8.pipelined_steps, 28);
  if (per > 1) {
    EXPECT_LT(on8.pipelined_launches, on8.pipelined_steps) << "no launch ran several steps";
  }
  EXPECT_EQ(on8.steps_without_logits, on8.steps);

  // Stops inside a launch, one request at a time: EOS (not output) and a stop token (output).
  std::vector<se::GenerationRequest> stops = {reqs[1], reqs[4]};
  stops[0].ignore_eos = false;
  stops[1].stop_token_ids = {want[4].tokens[13]};
  const std::vector<int64_t> eos = {want[1].tokens[10]};
  se::EngineSnapshot s_off, s_on;
  const auto stop_want = serve(*ex, se::Pipelining::Off, 8, eos, stops, true, &s_off);
  const auto stop_got = serve(*ex, se::Pipelining::Auto, 8, eos, stops, true, &s_on);
  EXPECT_EQ(stop_want[0].reason, se::FinishReason::Stop);
  EXPECT_LT(stop_want[0].tokens.size(), 29u);
  EXPECT_EQ(stop_want[1].reason, se::FinishReason::Stop);
  EXPECT_EQ(stop_want[1].tokens.back(), want[4].tokens[13]);
  EXPECT_EQ(stop_got, stop_want);
  EXPECT_GT(s_on.pipelined_steps, 0);
}

}  // namespace
