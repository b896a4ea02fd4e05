#pragma once
// The serving engine: one thread runs the step loop (schedule -> executor step -> sample -> deliver) over
// every request in flight; callers on other threads submit requests and read their tokens from a
// RequestStream, which they can cancel (a disconnected client) at any time.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/engine/executor.h"
#include "synaptix/engine/request.h"
#include "synaptix/engine/scheduler.h"

namespace synaptix::engine {

// Thrown by submit() when the queue limit is reached (HTTP 429) or the engine is draining (HTTP 503).
class Overloaded : public Error {
 public:
  using Error::Error;
};
class ShuttingDown : public Error {
 public:
  using Error::Error;
};

struct ServingConfig {
  SchedulerConfig scheduler;
  int64_t max_in_flight = 1024;  // requests queued or running; submit() refuses more
  // Greedy decode with the host one step behind the executor (PipelinedGreedyStep): while every scheduled
  // sequence decodes greedily (no logprobs, penalties or min_tokens mask), steps are enqueued in groups of up
  // to this many (capped by the executor, by each sequence's remaining max_tokens and by the free KV blocks),
  // the next group before this one's tokens are read. A finished sequence, an arrival or a cancellation ends
  // the run after the groups in flight (their steps past a stop are dropped). 0: never.
  int64_t greedy_steps_per_launch = 8;
  Pipelining pipelining = Pipelining::Auto;  // Auto: on executors whose enqueue overlaps the host
};

struct TokenEvent {
  int32_t token = 0;
  float logprob = 0.0f;  // log p(token) under the sampling distribution, when requested
};

// The caller's end of one request. Thread-safe.
class RequestStream {
 public:
  enum class Status { Tokens, Finished, Timeout };
  // Moves the tokens produced since the last call into `out` (appending). Blocks up to `timeout` for new
  // tokens or the end. Returns Finished once every token has been taken and the request is over.
  Status read(std::vector<TokenEvent>& out, std::chrono::milliseconds timeout);
  // Asks the engine to stop this request and free its KV blocks; it finishes with FinishReason::Cancelled.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  FinishReason finish_reason() const;
  std::string error() const;  // for FinishReason::Error
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t cached_prompt_tokens() const;
  uint64_t id() const { return id_; }

 private:
  friend class ServingEngine;
  void push(const TokenEvent& e);
  void finish(FinishReason r, std::string error = {});

  uint64_t id_ = 0;
  int64_t prompt_tokens_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TokenEvent> pending_;
  FinishReason reason_ = FinishReason::None;
  std::string error_;
  int64_t cached_ = 0;
  std::atomic<bool> cancelled_{false};
};

struct EngineSnapshot {
  int64_t running = 0, waiting = 0;
  int64_t kv_blocks_total = 0, kv_blocks_used = 0, kv_blocks_free = 0, kv_blocks_cached = 0;
  int64_t prompt_tokens = 0, prompt_tokens_cached = 0;  // over admissions
  int64_t generated_tokens = 0, preemptions = 0, steps = 0;
  // Steps whose tokens the executor chose where the logits are (GreedyStep / SampleStep): no logits copied
  // to the host.
  int64_t steps_without_logits = 0;
  // Of those, steps run through PipelinedGreedyStep, and the enqueues that ran them.
  int64_t pipelined_steps = 0, pipelined_launches = 0;
  int64_t in_flight = 0;
};

class ServingEngine {
 public:
  // `executor` must outlive the engine; its KV cache is managed by this engine's scheduler alone.
  ServingEngine(Executor& executor, ServingConfig cfg, std::vector<int64_t> eos_ids);
  ~ServingEngine();  // cancels what is in flight and joins the loop
  ServingEngine(const ServingEngine&) = delete;
  ServingEngine& operator=(const ServingEngine&) = delete;

  // Validates the request (tokens in the vocabulary, prompt + max_tokens within the context and the KV
  // cache) and queues it. Throws Error for an invalid request, Overloaded or ShuttingDown.
  std::shared_ptr<RequestStream> submit(GenerationRequest req);
  // Refuse new requests from now on (draining); what is in flight runs to completion.
  void stop_accepting() { accepting_.store(false); }
  bool accepting() const { return accepting_.load(); }
  int64_t in_flight() const { return in_flight_.load(); }
  EngineSnapshot snapshot() const;
  const model::Spec& spec() const { return executor_.spec(); }
  int64_t max_sequence_tokens() const;  // min(context, KV capacity)

 private:
  struct Active {
    std::shared_ptr<RequestStream> stream;
    GenerationRequest req;
    std::unique_ptr<Sampler> sampler;
  };
  void loop();
  void step_once(std::vector<float>& logits);
  // A run of greedy decode steps through piped_, starting with `chunks` (one token each, every one
  // completing its sequence); defined in serving_pipelined.cpp.
  void run_pipelined(const std::vector<ScheduledChunk>& chunks);
  bool pipelined_run_interrupted(const std::vector<Active*>& rows);
  // Delivers the token chosen for a sequence whose chunk completed; returns why the request ends, or None.
  FinishReason take_token(Sequence& s, Active& a, int32_t tok, float logprob);
  // How this step's tokens are chosen: by the executor where the logits are (argmax, or a draw under one
  // shared SamplingParams), or by each request's host Sampler from logits copied back.
  enum class TokenPath { HostLogits, DeviceArgmax, DeviceSample };
  TokenPath token_path(const std::vector<ScheduledChunk>& chunks, const SamplingParams** shared) const;
  void finish(uint64_t id, FinishReason r, const std::string& error = {});
  void update_snapshot();

  Executor& executor_;
  GreedyStep* greedy_ = nullptr;  // the executor's, when it offers them
  SampleStep* sample_ = nullptr;
  PipelinedGreedyStep* piped_ = nullptr;  // when cfg_ and the executor allow it
  ServingConfig cfg_;
  std::vector<int64_t> eos_ids_;
  Scheduler scheduler_;  // engine thread only
  std::unordered_map<uint64_t, Active> active_;  // engine thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::shared_ptr<RequestStream>, GenerationRequest>> incoming_;
  bool stop_ = false;
  uint64_t next_id_ = 1;
  std::atomic<bool> accepting_{true};
  std::atomic<int64_t> in_flight_{0};

  mutable std::mutex snap_mu_;
  EngineSnapshot snap_;
  int64_t generated_ = 0, steps_ = 0, steps_without_logits_ = 0, pipelined_steps_ = 0, pipelined_launches_ = 0;
  std::thread thread_;
};

}  // namespace synaptix::engine
