#pragma once
// One OpenAI completion request in flight: its `n` choices submitted to the serving engine, their tokens
// turned into text (streaming UTF-8 decode, stop strings held back until they can no longer match), and
// handed to the HTTP layer as events. Latency metrics are recorded here, where the tokens are seen.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "synaptix/engine/serving_engine.h"
#include "synaptix/engine/stop_matcher.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/serve/metrics.h"
#include "synaptix/serve/openai_api.h"

namespace synaptix::serve {

struct TokenOut {
  int32_t id = 0;
  std::string text;  // this token alone, decoded
  float logprob = 0.0f;
};

struct ChoiceEvent {
  int index = 0;
  std::string text;                // new text (may be empty while a stop string or UTF-8 is pending)
  std::vector<TokenOut> tokens;    // the tokens behind it (with logprobs when asked for)
  std::string finish_reason;       // set on the last event of a choice: "stop" | "length"
};

class CompletionJob {
 public:
  using Clock = std::chrono::steady_clock;
  // Submits every choice; throws what ServingEngine::submit throws (on failure nothing stays submitted).
  CompletionJob(engine::ServingEngine& engine, const model::Tokenizer& tok, const CompletionParams& p,
                std::vector<int32_t> prompt, ServerMetrics& metrics, Clock::time_point arrival);
  ~CompletionJob();  // cancels choices still running (a client gone)

  // Runs to the end, calling `emit` for every piece. `emit` returning false (the client is gone) cancels
  // the request. `idle` is called after each `idle_every` without an event (heartbeats) and cancels the
  // same way, and so does `connected` (when given) returning false: it is asked every kConnectedEvery,
  // events or not, so a client that left is noticed while tokens are still being made for it.
  // Returns true when every choice finished. Throws Error when the engine failed a choice.
  bool run(const std::function<bool(const ChoiceEvent&)>& emit, const std::function<bool()>& idle,
           std::chrono::milliseconds idle_every, const std::function<bool()>& connected = {});
  static constexpr std::chrono::milliseconds kConnectedEvery{100};

  int64_t prompt_tokens() const { return static_cast<int64_t>(prompt_.size()); }
  int64_t completion_tokens() const { return completion_tokens_; }
  int64_t cached_prompt_tokens() const;
  const std::vector<int32_t>& prompt() const { return prompt_; }

 private:
  struct Choice {
    std::shared_ptr<engine::RequestStream> stream;
    model::DecodeStream decoder;
    engine::StopMatcher stops;
    bool done = false;
    int64_t tokens = 0;
    Clock::time_point last_token;
  };
  bool drain_choice(int i, const std::function<bool(const ChoiceEvent&)>& emit, std::chrono::milliseconds wait,
                    bool* got_event);
  void cancel_all();

  engine::ServingEngine& engine_;
  const model::Tokenizer& tok_;
  bool logprobs_;
  std::vector<int32_t> prompt_;
  ServerMetrics& metrics_;
  Clock::time_point arrival_;
  std::vector<Choice> choices_;
  int64_t completion_tokens_ = 0;
  bool first_token_seen_ = false;
};

}  // namespace synaptix::serve
