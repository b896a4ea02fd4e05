// The serving engine against the real CPU executor on fixture models: every request's greedy output through
// continuous batching (mixed prefill/decode steps, chunked prefill, prefix sharing, preemption) must equal
// that request run alone through engine::generate on a fresh executor.
#include "synaptix/engine/serving_engine.h"

#include <gtest/gtest.h>

#include <random>

#include "synaptix/engine/cpu_executor.h"
#include "synaptix/engine/generator.h"
#include "synaptix/model/model.h"

using namespace synaptix;
using namespace synaptix::engine;
using namespace std::chrono_literals;

namespace {

std::string fixture(const std::string& name) { return std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/" + name; }

struct Case {
  std::vector<int32_t> prompt;
  int64_t max_tokens;
};

std::vector<int32_t> alone(const model::Model& m, const Case& c) {
  auto ex = make_cpu_executor(m, KvConfig{0, 16});
  GenerateOptions opt;
  opt.max_tokens = c.max_tokens;
  opt.eos_ids = m.spec.eos_token_ids;
  opt.prefill_chunk = 7;  // a different chunking than the engine's, on purpose
  std::vector<int32_t> out;
  generate(*ex, c.prompt, opt, [&](int32_t t) {
    out.push_back(t);
    return true;
  });
  return out;
}

std::vector<TokenEvent> drain(RequestStream& s) {
  std::vector<TokenEvent> out;
  for (;;) {
    auto st = s.read(out, 30s);
    if (st == RequestStream::Status::Finished) return out;
    if (st == RequestStream::Status::Timeout) {
      ADD_FAILURE() << "request " << s.id() << " produced nothing for 30 s";
      return out;
    }
  }
}

std::vector<int32_t> tokens_of(const std::vector<TokenEvent>& ev) {
  std::vector<int32_t> t;
  for (auto& e : ev) t.push_back(e.token);
  return t;
}

std::vector<Case> mixed_cases(int n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> shared(40);
  for (auto& t : shared) t = static_cast<int32_t>(1 + rng() % static_cast<uint32_t>(vocab - 1));
  std::vector<Case> cases;
  for (int i = 0; i < n; ++i) {
    Case c;
    if (i % 3 == 0) c.prompt.assign(shared.begin(), shared.begin() + 17 + (i % 24));  // shared prefixes
    const int tail = 1 + static_cast<int>(rng() % 60);
    for (int k = 0; k < tail; ++k) c.prompt.push_back(static_cast<int32_t>(1 + rng() % static_cast<uint32_t>(vocab - 1)));
    c.max_tokens = 1 + static_cast<int64_t>(rng() % 12);
    cases.push_back(std::move(c));
  }
  return cases;
}

void check_concurrent_equals_alone(const std::string& model_name, ServingConfig cfg, int64_t num_blocks, int n,
                                   int64_t* preemptions = nullptr) {
  auto m = model::load_model(fixture(model_name));
  auto ex = make_cpu_executor(*m, KvConfig{num_blocks, 8});
  ServingEngine engine(*ex, cfg, m->spec.eos_token_ids);
  auto cases = mixed_cases(n, m->spec.vocab_size, 7);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (auto& c : cases) {
    GenerationRequest r;
    r.prompt = c.prompt;
    r.max_tokens = c.max_tokens;
    streams.push_back(engine.submit(r));
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    auto got = tokens_of(drain(*streams[i]));
    EXPECT_EQ(got, alone(*m, cases[i])) << model_name << " request " << i << " (prompt " << cases[i].prompt.size()
                                        << " tokens)";
    const auto reason = streams[i]->finish_reason();
    EXPECT_TRUE(reason == FinishReason::Length || reason == FinishReason::Stop);
  }
  auto snap = engine.snapshot();
  EXPECT_EQ(snap.in_flight, 0);
  EXPECT_EQ(snap.running + snap.waiting, 0);
  EXPECT_EQ(snap.kv_blocks_used, 0) << "KV blocks leaked";
  // Plain greedy requests on an executor with a GreedyStep never copy logits to the host.
  EXPECT_EQ(snap.steps_without_logits, snap.steps);
  if (preemptions) *preemptions = snap.preemptions;
}

}  // namespace

TEST(ServingEngine, ConcurrentGreedyEqualsAloneLlama) {
  ServingConfig cfg;
  cfg.scheduler = {.block_size = 8, .max_running = 16, .max_batched_tokens = 48, .prefix_caching = true};
  check_concurrent_equals_alone("llama", cfg, 256, 40);
}

TEST(ServingEngine, ConcurrentGreedyEqualsAloneQwen3AndMoe) {
  ServingConfig cfg;
  cfg.scheduler = {.block_size = 8, .max_running = 8, .max_batched_tokens = 32, .prefix_caching = true};
  check_concurrent_equals_alone("qwen3", cfg, 256, 20);
  check_concurrent_equals_alone("mixtral-moe", cfg, 256, 12);
}

// Greedy serving takes the executor's argmax (the CPU executor's GreedyStep: its fused LM head + argmax, or
// the argmax of its own logits) and gives the tokens the host path gives: the same requests with logprobs
// (which need the logits on the host) and mixed with them in one batch.
TEST(ServingEngine, GreedyTakesTheArgmaxPathWithTheLogitsPathsTokens) {
  auto m = model::load_model(fixture("llama"));
  auto ex = make_cpu_executor(*m, KvConfig{256, 8});
  ASSERT_NE(dynamic_cast<GreedyStep*>(ex.get()), nullptr);
  ServingConfig cfg;
  cfg.scheduler = {.block_size = 8, .max_running = 8, .max_batched_tokens = 48, .prefix_caching = false};
  ServingEngine engine(*ex, cfg, m->spec.eos_token_ids);
  const auto cases = mixed_cases(8, m->spec.vocab_size, 11);
  auto run = [&](const std::vector<bool>& logprobs) {
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (size_t i = 0; i < cases.size(); ++i) {
      GenerationRequest r;
      r.prompt = cases[i].prompt;
      r.max_tokens = cases[i].max_tokens;
      r.logprobs = logprobs[i];
      streams.push_back(engine.submit(r));
    }
    std::vector<std::vector<TokenEvent>> out;
    for (auto& s : streams) out.push_back(drain(*s));
    return out;
  };
  const auto argmax = run(std::vector<bool>(cases.size(), false));
  const EngineSnapshot after_argmax = engine.snapshot();
  EXPECT_GT(after_argmax.steps, 0);
  EXPECT_EQ(after_argmax.steps_without_logits, after_argmax.steps) << "a greedy step copied logits to the host";

  const auto host = run(std::vector<bool>(cases.size(), true));
  const EngineSnapshot after_host = engine.snapshot();
  EXPECT_GT(after_host.steps, after_argmax.steps);
  EXPECT_EQ(after_host.steps_without_logits, after_argmax.steps_without_logits) << "logprobs need the host path";

  std::vector<bool> half(cases.size());
  for (size_t i = 0; i < half.size(); ++i) half[i] = i % 2 == 1;
  const auto mixed = run(half);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(tokens_of(argmax[i]), tokens_of(host[i])) << "request " << i;
    EXPECT_EQ(tokens_of(mixed[i]), tokens_of(host[i])) << "request " << i;
    EXPECT_EQ(tokens_of(argmax[i]), alone(*m, cases[i])) << "request " << i;
    for (const TokenEvent& e : host[i]) EXPECT_LT(e.logprob, 0.0f) << "request " << i << ": logprobs were asked";
  }
}

TEST(ServingEngine, KvExhaustionPreemptsAndCompletesEveryRequest) {
  ServingConfig cfg;
  cfg.scheduler = {.block_size = 8, .max_running = 16, .max_batched_tokens = 64, .prefix_caching = true};
  int64_t preemptions = 0;
  // 14 blocks of 8 = 112 positions for 30 requests of up to ~110 tokens each.
  check_concurrent_equals_alone("llama", cfg, 14, 30, &preemptions);
  EXPECT_GT(preemptions, 0);
}

TEST(ServingEngine, PrefixCacheHitsAndSamePromptSameOutput) {
  auto m = model::load_model(fixture("llama"));
  auto ex = make_cpu_executor(*m, KvConfig{64, 8});
  ServingConfig cfg;
  cfg.scheduler = {.block_size = 8, .max_running = 4, .max_batched_tokens = 64, .prefix_caching = true};
  ServingEngine engine(*ex, cfg, m->spec.eos_token_ids);
  GenerationRequest r;
  for (int i = 0; i < 30; ++i) r.prompt.push_back(5 + i);
  r.max_tokens = 6;
  r.ignore_eos = true;
  auto first = tokens_of(drain(*engine.submit(r)));
  auto s2 = engine.submit(r);
  auto second = tokens_of(drain(*s2));
  EXPECT_EQ(first, second);
  EXPECT_EQ(first.size(), 6u);
  EXPECT_EQ(s2->cached_prompt_tokens(), 24);  // three full blocks of the 30-token prompt
  EXPECT_EQ(engine.snapshot().prompt_tokens_cached, 24);
}

TEST(ServingEngine, CancelFreesBlocksAndOthersContinue) {
  auto m = model::load_model(fixture("llama"));
  auto ex = make_cpu_executor(*m, KvConfig{64, 8});
  ServingConfig cfg;
  cfg.scheduler = {.block_size = 8, .max_running = 8, .max_batched_tokens = 64, .prefix_caching = false};
  ServingEngine engine(*ex, cfg, m->spec.eos_token_ids);
  GenerationRequest r;
  r.prompt = {3, 4, 5, 6, 7};
  r.max_tokens = 200;
  r.ignore_eos = true;
  auto victim = engine.submit(r);
  std::vector<TokenEvent> some;
  ASSERT_EQ(victim->read(some, 30s), RequestStream::Status::Tokens);
  victim->cancel();
  drain(*victim);
  EXPECT_EQ(victim->finish_reason(), FinishReason::Cancelled);
  r.max_tokens = 3;
  auto other = engine.submit(r);
  EXPECT_EQ(drain(*other).size(), 3u);
  EXPECT_EQ(engine.snapshot().kv_blocks_used, 0);
}

TEST(ServingEngine, RejectsInvalidAndOverload) {
  auto m = model::load_model(fixture("llama"));
  auto ex = make_cpu_executor(*m, KvConfig{8, 8});  // 64 positions of KV
  ServingConfig cfg;
  cfg.max_in_flight = 1;
  ServingEngine engine(*ex, cfg, m->spec.eos_token_ids);
  GenerationRequest r;
  r.max_tokens = 4;
  EXPECT_THROW(engine.submit(r), Error) << "empty prompt";
  r.prompt = {1, 2, static_cast<int32_t>(m->spec.vocab_size)};
  EXPECT_THROW(engine.submit(r), Error) << "token outside the vocabulary";
  r.prompt = {1, 2, 3};
  r.max_tokens = 62;
  EXPECT_THROW(engine.submit(r), Error) << "longer than the KV cache";
  r.max_tokens = 0;
  EXPECT_THROW(engine.submit(r), Error);
  r.max_tokens = 50;
  r.ignore_eos = true;
  auto a = engine.submit(r);
  EXPECT_THROW(engine.submit(r), Overloaded);
  drain(*a);
  engine.stop_accepting();
  EXPECT_THROW(engine.submit(r), ShuttingDown);
}
