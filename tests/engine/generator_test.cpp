// engine::generate through PipelinedGreedyStep (asked for on the CPU executor, whose enqueue runs at once)
// must give the tokens and finish reason of step-by-step greedy decoding: up to max_tokens, at an
// end-of-sequence token, and at a stop the caller's callback signals inside a group of steps.
#include "synaptix/engine/generator.h"

#include <gtest/gtest.h>

#include "synaptix/engine/cpu_executor.h"
#include "synaptix/model/model.h"

using namespace synaptix;
using namespace synaptix::engine;

namespace {

struct Result {
  std::vector<int32_t> tokens;
  std::string finish_reason;
};

// stop_after: the callback returns false after this many tokens (0: never).
Result run(const model::Model& m, Pipelining p, int64_t per_launch, std::vector<int64_t> eos, size_t stop_after) {
  auto ex = make_cpu_executor(m, KvConfig{0, 8});
  GenerateOptions opt;
  opt.max_tokens = 30;
  opt.eos_ids = std::move(eos);
  opt.pipelining = p;
  opt.greedy_steps_per_launch = per_launch;
  Result r;
  const std::vector<int32_t> prompt = {7, 99, 23, 5, 61, 2, 18};
  r.finish_reason = generate(*ex, prompt, opt, [&](int32_t t) {
                      r.tokens.push_back(t);
                      return stop_after == 0 || r.tokens.size() < stop_after;
                    }).finish_reason;
  return r;
}

}  // namespace

TEST(Generate, PipelinedGreedyGivesTheStepByStepTokens) {
  auto m = model::load_model(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama");
  const Result plain = run(*m, Pipelining::Off, 8, {}, 0);
  ASSERT_EQ(plain.tokens.size(), 30u);
  EXPECT_EQ(plain.finish_reason, "length");
  const std::vector<int64_t> eos = {plain.tokens[13]};
  const Result at_eos = run(*m, Pipelining::Off, 8, eos, 0);
  EXPECT_EQ(at_eos.finish_reason, "stop");
  EXPECT_LT(at_eos.tokens.size(), 30u);
  const Result at_stop = run(*m, Pipelining::Off, 8, {}, 11);
  EXPECT_EQ(at_stop.tokens.size(), 11u);
  for (int64_t per_launch : {1, 3, 8}) {
    SCOPED_TRACE(per_launch);
    const Result a = run(*m, Pipelining::On, per_launch, {}, 0);
    EXPECT_EQ(a.tokens, plain.tokens);
    EXPECT_EQ(a.finish_reason, plain.finish_reason);
    const Result b = run(*m, Pipelining::On, per_launch, eos, 0);
    EXPECT_EQ(b.tokens, at_eos.tokens);
    EXPECT_EQ(b.finish_reason, at_eos.finish_reason);
    const Result c = run(*m, Pipelining::On, per_launch, {}, 11);
    EXPECT_EQ(c.tokens, at_stop.tokens);
    EXPECT_EQ(c.finish_reason, at_stop.finish_reason);
  }
}
