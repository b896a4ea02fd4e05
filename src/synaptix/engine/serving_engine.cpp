#include "synaptix/engine/serving_engine.h"

#include <algorithm>
#include <cmath>

namespace synaptix::engine {

// ---- RequestStream ---------------------------------------------------------------------------------------

RequestStream::Status RequestStream::read(std::vector<TokenEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return !pending_.empty() || reason_ != FinishReason::None; });
  if (!pending_.empty()) {
    out.insert(out.end(), pending_.begin(), pending_.end());
    pending_.clear();
    return Status::Tokens;
  }
  return reason_ != FinishReason::None ? Status::Finished : Status::Timeout;
}

FinishReason RequestStream::finish_reason() const {
  std::lock_guard lk(mu_);
  return reason_;
}

std::string RequestStream::error() const {
  std::lock_guard lk(mu_);
  return error_;
}

int64_t RequestStream::cached_prompt_tokens() const {
  std::lock_guard lk(mu_);
  return cached_;
}

void RequestStream::push(const TokenEvent& e) {
  {
    std::lock_guard lk(mu_);
    pending_.push_back(e);
  }
  cv_.notify_all();
}

void RequestStream::finish(FinishReason r, std::string error) {
  {
    std::lock_guard lk(mu_);
    reason_ = r;
    error_ = std::move(error);
  }
  cv_.notify_all();
}

// ---- ServingEngine ---------------------------------------------------------------------------------------

ServingEngine::ServingEngine(Executor& executor, ServingConfig cfg, std::vector<int64_t> eos_ids)
    : executor_(executor), cfg_(cfg), eos_ids_(std::move(eos_ids)),
      scheduler_([&] {
        SchedulerConfig s = cfg.scheduler;
        s.block_size = executor.block_size();  // the executor's layout decides
        return s;
      }(), executor.num_blocks()) {
  cfg_.scheduler.block_size = executor.block_size();
  greedy_ = dynamic_cast<GreedyStep*>(&executor);
  sample_ = dynamic_cast<SampleStep*>(&executor);
  if (sample_ && !sample_->can_sample()) sample_ = nullptr;
  if (greedy_ && cfg_.greedy_steps_per_launch > 0) {
    auto* p = dynamic_cast<PipelinedGreedyStep*>(&executor);
    if (use_pipelining(cfg_.pipelining, p)) piped_ = p;
  }
  update_snapshot();
  thread_ = std::thread([this] { loop(); });
}

ServingEngine::~ServingEngine() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

int64_t ServingEngine::max_sequence_tokens() const {
  return std::min(executor_.spec().max_position_embeddings, scheduler_.max_tokens_per_sequence());
}

std::shared_ptr<RequestStream> ServingEngine::submit(GenerationRequest req) {
  const int64_t vocab = executor_.spec().vocab_size;
  const int64_t plen = static_cast<int64_t>(req.prompt.size());
  if (plen == 0) fail("the prompt is empty (expected at least one token)");
  for (int32_t t : req.prompt) {
    if (t < 0 || t >= vocab) fail("prompt token id ", t, " is outside the vocabulary [0, ", vocab, ")");
  }
  if (req.max_tokens < 1) fail("max_tokens must be at least 1, got ", req.max_tokens);
  if (plen + req.max_tokens > max_sequence_tokens()) {
    fail("prompt (", plen, " tokens) + max_tokens (", req.max_tokens, ") exceeds the maximum of ",
         max_sequence_tokens(), " tokens per sequence");
  }
  if (!accepting_.load()) throw ShuttingDown("the server is shutting down");
  auto stream = std::make_shared<RequestStream>();
  stream->prompt_tokens_ = plen;
  {
    std::lock_guard lk(mu_);
    if (stop_) throw ShuttingDown("the server is shutting down");
    if (in_flight_.load() >= cfg_.max_in_flight) {
      throw Overloaded("too many requests in flight (limit " + std::to_string(cfg_.max_in_flight) + ")");
    }
    stream->id_ = next_id_++;
    in_flight_.fetch_add(1);
    incoming_.emplace_back(stream, std::move(req));
  }
  cv_.notify_all();
  return stream;
}

EngineSnapshot ServingEngine::snapshot() const {
  std::lock_guard lk(snap_mu_);
  EngineSnapshot s = snap_;
  s.in_flight = in_flight_.load();
  return s;
}

void ServingEngine::update_snapshot() {
  const BlockAllocator& a = scheduler_.allocator();
  std::lock_guard lk(snap_mu_);
  snap_.running = scheduler_.num_running();
  snap_.waiting = scheduler_.num_waiting();
  snap_.kv_blocks_total = a.num_blocks();
  snap_.kv_blocks_used = a.num_referenced();
  snap_.kv_blocks_free = a.num_available();
  snap_.kv_blocks_cached = a.num_cached();
  snap_.prompt_tokens = scheduler_.stats().prompt_tokens_admitted;
  snap_.prompt_tokens_cached = scheduler_.stats().prompt_tokens_cached;
  snap_.preemptions = scheduler_.stats().preemptions;
  snap_.generated_tokens = generated_;
  snap_.steps = steps_;
  snap_.steps_without_logits = steps_without_logits_;
  snap_.pipelined_steps = pipelined_steps_;
  snap_.pipelined_launches = pipelined_launches_;
}

void ServingEngine::finish(uint64_t id, FinishReason r, const std::string& error) {
  scheduler_.remove(id);
  auto it = active_.find(id);
  if (it == active_.end()) return;
  std::shared_ptr<RequestStream> stream = std::move(it->second.stream);
  active_.erase(it);
  in_flight_.fetch_sub(1);
  // The snapshot first, so that a caller woken by the end of its request sees its blocks released.
  update_snapshot();
  stream->finish(r, error);
}

void ServingEngine::loop() {
  std::vector<float> logits;
  for (;;) {
    std::deque<std::pair<std::shared_ptr<RequestStream>, GenerationRequest>> arrived;
    bool stopping = false;
    {
      std::unique_lock lk(mu_);
      // Idle: sleep until a request arrives. Busy: poll for cancellations between steps.
      cv_.wait(lk, [&] { return stop_ || !incoming_.empty() || !active_.empty(); });
      arrived.swap(incoming_);
      stopping = stop_;
    }
    for (auto& [stream, req] : arrived) {
      auto seq = std::make_unique<Sequence>();
      seq->id = stream->id_;
      seq->tokens = req.prompt;
      seq->prompt_len = static_cast<int64_t>(req.prompt.size());
      auto sampler = std::make_unique<Sampler>(req.sampling);
      active_.emplace(seq->id, Active{stream, std::move(req), std::move(sampler)});
      scheduler_.add(std::move(seq));
    }
    if (stopping) {
      std::vector<uint64_t> ids;
      for (auto& [id, a] : active_) ids.push_back(id);
      for (uint64_t id : ids) finish(id, FinishReason::Cancelled);
      update_snapshot();
      return;
    }
    std::vector<uint64_t> cancelled;
    for (auto& [id, a] : active_) {
      if (a.stream->cancelled()) cancelled.push_back(id);
    }
    for (uint64_t id : cancelled) finish(id, FinishReason::Cancelled);
    if (!active_.empty()) {
      try {
        step_once(logits);
      } catch (const std::exception& e) {
        // A failed step leaves the KV of every scheduled sequence unknown: fail them all, keep serving.
        std::vector<uint64_t> ids;
        for (auto& [id, a] : active_) ids.push_back(id);
        for (uint64_t id : ids) finish(id, FinishReason::Error, std::string("engine step failed: ") + e.what());
      }
    }
    update_snapshot();
  }
}

namespace {

bool has_penalties(const SamplingParams& p) {
  return p.repetition_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
}

bool same_sampling(const SamplingParams& a, const SamplingParams& b) {
  return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p &&
         a.seed == b.seed && !has_penalties(a) && !has_penalties(b);
}

}  // namespace

ServingEngine::TokenPath ServingEngine::token_path(const std::vector<ScheduledChunk>& chunks,
                                                   const SamplingParams** shared) const {
  // Every row that takes a token this step must allow it: no logprobs (they need the distribution), no
  // penalties (they need the history), and no end-of-sequence mask still in force (min_tokens edits the row).
  bool all_greedy = true, one_params = true;
  const SamplingParams* first = nullptr;
  *shared = nullptr;
  for (const ScheduledChunk& c : chunks) {
    if (!c.completes()) continue;  // its row is computed and dropped
    const Active& a = active_.at(c.seq->id);
    const SamplingParams& p = a.req.sampling;
    if (a.req.logprobs || has_penalties(p)) return TokenPath::HostLogits;
    if (c.seq->num_output() < a.req.min_tokens && !eos_ids_.empty()) return TokenPath::HostLogits;
    all_greedy = all_greedy && p.temperature <= 0.0f;
    if (!first) first = &p;
    else if (!same_sampling(*first, p)) one_params = false;
  }
  if (all_greedy) return greedy_ ? TokenPath::DeviceArgmax : TokenPath::HostLogits;
  // One draw for the whole step: only when every row samples under the same parameters and seed.
  *shared = first;
  return sample_ && one_params && first ? TokenPath::DeviceSample : TokenPath::HostLogits;
}

void ServingEngine::step_once(std::vector<float>& logits) {
  std::vector<ScheduledChunk> chunks = scheduler_.schedule();
  if (chunks.empty()) return;
  std::vector<SeqChunk> batch;
  batch.reserve(chunks.size());
  for (const ScheduledChunk& c : chunks) {
    const Sequence& s = *c.seq;
    batch.push_back({std::span<const int32_t>(s.tokens.data() + c.start, static_cast<size_t>(c.num_tokens)),
                     c.start, std::span<const int32_t>(s.blocks), false});
  }
  const SamplingParams* shared = nullptr;
  const TokenPath path = token_path(chunks, &shared);
  if (path == TokenPath::DeviceArgmax && piped_ &&
      std::all_of(chunks.begin(), chunks.end(), [](const ScheduledChunk& c) { return c.num_tokens == 1 && c.completes(); })) {
    run_pipelined(chunks);
    return;
  }
  std::vector<int32_t> ids;
  if (path == TokenPath::DeviceArgmax) {
    greedy_->step_argmax(batch, ids);
  } else if (path == TokenPath::DeviceSample) {
    // The random stream of the draw: the first sampling row's output count, so a request served alone draws
    // the same tokens however its prompt was chunked.
    uint64_t step_index = 0;
    for (const ScheduledChunk& c : chunks)
      if (c.completes()) {
        step_index = static_cast<uint64_t>(c.seq->num_output());
        break;
      }
    sample_->step_sample(batch, *shared, step_index, ids);
  } else {
    executor_.step(batch, logits);
  }
  scheduler_.commit(chunks);
  ++steps_;
  const bool on_device = path != TokenPath::HostLogits;
  if (on_device) ++steps_without_logits_;

  const size_t vocab = static_cast<size_t>(executor_.spec().vocab_size);
  if (on_device ? ids.size() != chunks.size() : logits.size() != chunks.size() * vocab) {
    fail("executor returned ", on_device ? ids.size() : logits.size(), on_device ? " ids" : " logits", " for ",
         chunks.size(), " chunks of vocabulary ", vocab);
  }
  std::vector<std::pair<uint64_t, FinishReason>> done;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ScheduledChunk& c = chunks[i];
    if (!c.completes()) continue;  // a prefill chunk before the last: its logits are not needed
    Sequence& s = *c.seq;
    Active& a = active_.at(s.id);
    float lp = 0.0f;
    int32_t tok = 0;
    if (on_device) {
      tok = ids[i];
    } else {
      std::span<float> row(logits.data() + i * vocab, vocab);
      if (s.num_output() < a.req.min_tokens) {
        for (int64_t e : eos_ids_) {
          if (e >= 0 && static_cast<size_t>(e) < vocab) row[static_cast<size_t>(e)] = -INFINITY;
        }
      }
      tok = a.sampler->sample(row, s.tokens, a.req.logprobs ? &lp : nullptr);
    }
    if (const FinishReason r = take_token(s, a, tok, lp); r != FinishReason::None) done.emplace_back(s.id, r);
  }
  for (auto& [id, r] : done) finish(id, r);
}

FinishReason ServingEngine::take_token(Sequence& s, Active& a, int32_t tok, float logprob) {
  if (s.num_output() == 0) {
    std::lock_guard lk(a.stream->mu_);
    a.stream->cached_ = s.num_cached_prompt_tokens;
  }
  const bool is_eos = std::find(eos_ids_.begin(), eos_ids_.end(), tok) != eos_ids_.end();
  if (is_eos && !a.req.ignore_eos) return FinishReason::Stop;  // the end-of-sequence token itself is not output
  s.tokens.push_back(tok);
  ++generated_;
  a.stream->push({tok, logprob});
  if (std::find(a.req.stop_token_ids.begin(), a.req.stop_token_ids.end(), tok) != a.req.stop_token_ids.end())
    return FinishReason::Stop;
  if (s.num_output() >= a.req.max_tokens) return FinishReason::Length;
  return FinishReason::None;
}

}  // namespace synaptix::engine
