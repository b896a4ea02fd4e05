#include "synaptix/serve/completion_job.h"

#include <random>

namespace synaptix::serve {

using namespace std::chrono_literals;

CompletionJob::CompletionJob(engine::ServingEngine& engine, const model::Tokenizer& tok, const CompletionParams& p,
                             std::vector<int32_t> prompt, ServerMetrics& metrics, Clock::time_point arrival)
    : engine_(engine), tok_(tok), logprobs_(p.logprobs), prompt_(std::move(prompt)), metrics_(metrics),
      arrival_(arrival) {
  const uint64_t base_seed = p.seed ? *p.seed : std::random_device{}();
  choices_.reserve(static_cast<size_t>(p.n));
  try {
    for (int i = 0; i < p.n; ++i) {
      engine::GenerationRequest r;
      r.prompt = prompt_;
      r.max_tokens = *p.max_tokens;
      r.min_tokens = p.min_tokens;
      r.ignore_eos = p.ignore_eos;
      r.logprobs = p.logprobs;
      r.sampling.temperature = p.temperature;
      r.sampling.top_p = p.top_p;
      r.sampling.top_k = p.top_k;
      r.sampling.presence_penalty = p.presence_penalty;
      r.sampling.frequency_penalty = p.frequency_penalty;
      r.sampling.repetition_penalty = p.repetition_penalty;
      r.sampling.seed = base_seed + static_cast<uint64_t>(i);  // choices differ, a given seed reproduces
      auto stream = engine_.submit(std::move(r));
      choices_.push_back(Choice{std::move(stream), model::DecodeStream(tok_, /*skip_special_tokens=*/true),
                                engine::StopMatcher(p.stop), false, 0, arrival_});
    }
  } catch (...) {
    cancel_all();
    throw;
  }
  metrics_.tokens(prompt_tokens() * p.n, 0);
}

CompletionJob::~CompletionJob() { cancel_all(); }

void CompletionJob::cancel_all() {
  for (auto& c : choices_) {
    if (!c.done) c.stream->cancel();
  }
}

int64_t CompletionJob::cached_prompt_tokens() const {
  return choices_.empty() ? 0 : choices_.front().stream->cached_prompt_tokens();
}

bool CompletionJob::drain_choice(int i, const std::function<bool(const ChoiceEvent&)>& emit,
                                 std::chrono::milliseconds wait, bool* got_event) {
  Choice& c = choices_[static_cast<size_t>(i)];
  std::vector<engine::TokenEvent> evs;
  const auto st = c.stream->read(evs, wait);
  if (st == engine::RequestStream::Status::Timeout) return true;
  // One event per token (so a streaming client sees each token when it is made), then one that ends the
  // choice with its finish reason and any text held back.
  const auto now = Clock::now();
  for (const auto& e : evs) {
    if (c.stops.stopped()) break;  // tokens after a stop string are dropped
    if (!first_token_seen_) {
      first_token_seen_ = true;
      metrics_.ttft(std::chrono::duration<double>(now - arrival_).count());
    } else if (c.tokens > 0) {
      metrics_.inter_token(std::chrono::duration<double>(now - c.last_token).count());
    }
    c.last_token = now;
    ++c.tokens;
    ++completion_tokens_;
    metrics_.tokens(0, 1);
    ChoiceEvent out;
    out.index = i;
    TokenOut t{e.token, {}, e.logprob};
    if (logprobs_) t.text = tok_.decode(std::span<const int32_t>(&e.token, 1), false);
    out.tokens.push_back(std::move(t));
    out.text = c.stops.push(c.decoder.push(e.token));
    *got_event = true;
    if (!emit(out)) return false;
  }
  ChoiceEvent end;
  end.index = i;
  if (c.stops.stopped()) {
    c.stream->cancel();  // the rest of this choice is not wanted
    c.done = true;
    end.finish_reason = "stop";
  } else if (st == engine::RequestStream::Status::Finished) {
    const auto reason = c.stream->finish_reason();
    if (reason == engine::FinishReason::Error) fail("generation failed: ", c.stream->error());
    end.text = c.stops.push(c.decoder.flush());
    if (!c.stops.stopped()) end.text += c.stops.flush();
    c.done = true;
    end.finish_reason = c.stops.stopped() ? "stop" : engine::finish_reason_name(reason);
  } else {
    return true;
  }
  *got_event = true;
  return emit(end);
}

bool CompletionJob::run(const std::function<bool(const ChoiceEvent&)>& emit, const std::function<bool()>& idle,
                        std::chrono::milliseconds idle_every, const std::function<bool()>& connected) {
  auto last_event = Clock::now();
  auto last_check = last_event;
  for (;;) {
    if (connected && Clock::now() - last_check >= kConnectedEvery) {
      last_check = Clock::now();
      if (!connected()) {
        cancel_all();
        metrics_.cancelled();
        return false;
      }
    }
    bool any_left = false, got = false;
    const auto wait = choices_.size() == 1 ? std::chrono::milliseconds(50) : std::chrono::milliseconds(5);
    for (int i = 0; i < static_cast<int>(choices_.size()); ++i) {
      if (choices_[static_cast<size_t>(i)].done) continue;
      if (!drain_choice(i, emit, wait, &got)) {
        cancel_all();
        metrics_.cancelled();
        return false;
      }
      any_left = any_left || !choices_[static_cast<size_t>(i)].done;
    }
    if (!any_left) break;
    const auto now = Clock::now();
    if (got) {
      last_event = now;
    } else if (now - last_event >= idle_every) {
      last_event = now;
      if (!idle()) {
        cancel_all();
        metrics_.cancelled();
        return false;
      }
    }
  }
  metrics_.e2e(std::chrono::duration<double>(Clock::now() - arrival_).count());
  return true;
}

}  // namespace synaptix::serve
