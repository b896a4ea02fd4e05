#include "synaptix/engine/generator.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <numeric>

#include "synaptix/core/error.h"

namespace synaptix::engine {

GenerateStats generate(Executor& ex, const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                       const std::function<bool(int32_t)>& on_token) {
  using clock = std::chrono::steady_clock;
  const model::Spec& s = ex.spec();
  if (prompt.empty()) fail("generate: the prompt is empty (expected at least one token)");
  const int64_t need = static_cast<int64_t>(prompt.size()) + opt.max_tokens;
  if (need > s.max_position_embeddings)
    fail("generate: prompt (", prompt.size(), " tokens) + max_tokens (", opt.max_tokens,
         ") exceeds the model's context of ", s.max_position_embeddings, " tokens");
  const int64_t blocks = (need + ex.block_size() - 1) / ex.block_size();
  if (blocks > ex.num_blocks())
    fail("generate: ", need, " tokens need ", blocks, " KV blocks but the cache has ", ex.num_blocks());
  std::vector<int32_t> table(static_cast<size_t>(blocks));
  std::iota(table.begin(), table.end(), 0);

  GenerateStats st;
  st.prompt_tokens = static_cast<int64_t>(prompt.size());
  Sampler sampler(opt.sampling);
  std::vector<int32_t> history = prompt;
  std::vector<float> logits;
  // Plain greedy (no temperature, no penalties) needs only the argmax: executors that can take it without
  // handing back the logits (a fused LM head + argmax, or on the device) do.
  const SamplingParams& sp = opt.sampling;
  const bool plain_greedy = sp.temperature <= 0.0f && sp.repetition_penalty == 1.0f && sp.frequency_penalty == 0.0f &&
                            sp.presence_penalty == 0.0f;
  GreedyStep* greedy = plain_greedy ? dynamic_cast<GreedyStep*>(&ex) : nullptr;
  // Sampling without penalties (which need the history on the host) can be drawn where the logits are.
  const bool no_penalties = sp.repetition_penalty == 1.0f && sp.frequency_penalty == 0.0f && sp.presence_penalty == 0.0f;
  SampleStep* sampled = !plain_greedy && no_penalties ? dynamic_cast<SampleStep*>(&ex) : nullptr;
  if (sampled && !sampled->can_sample()) sampled = nullptr;
  const bool on_device = greedy || sampled;
  std::vector<int32_t> ids;
  uint64_t drawn = 0;  // tokens drawn so far: the step index of the device's random stream
  auto step = [&](const SeqChunk& c) {
    if (greedy) greedy->step_argmax({&c, 1}, ids);
    else if (sampled) sampled->step_sample({&c, 1}, sp, drawn, ids);
    else ex.step({&c, 1}, logits);
  };
  auto t0 = clock::now();
  const int64_t chunk = std::max<int64_t>(1, opt.prefill_chunk);
  for (int64_t p = 0; p < st.prompt_tokens; p += chunk) {
    const int64_t n = std::min(chunk, st.prompt_tokens - p);
    SeqChunk c{std::span<const int32_t>(prompt.data() + p, static_cast<size_t>(n)), p, table, false};
    step(c);
  }
  auto t1 = clock::now();
  st.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  st.finish_reason = "length";
  // Greedy on an executor that pipelines: the next group of steps is enqueued (its first token fed on the
  // device) before the host reads this group's tokens, so host work and the device overlap; each group runs
  // up to greedy_steps_per_launch steps back to back. Steps enqueued past a stop are finished and dropped
  // (they only wrote K/V past the end of this sequence, inside its table).
  PipelinedGreedyStep* piped = greedy ? dynamic_cast<PipelinedGreedyStep*>(&ex) : nullptr;
  if (!use_pipelining(opt.pipelining, piped)) piped = nullptr;
  auto take = [&](int32_t tok) {  // false: stop
    if (std::find(opt.eos_ids.begin(), opt.eos_ids.end(), tok) != opt.eos_ids.end()) {
      st.finish_reason = "stop";
      return false;
    }
    history.push_back(tok);
    ++st.generated_tokens;
    if (!on_token(tok)) {
      st.finish_reason = "stop";
      return false;
    }
    return true;
  };
  if (piped) {
    const int64_t per_launch =
        std::max<int64_t>(1, std::min(opt.greedy_steps_per_launch, piped->max_greedy_steps(1)));
    // Every generated token but the last feeds one decode step; the prefill chose the first.
    int64_t to_enqueue = opt.max_tokens - 1;
    if (opt.max_tokens > 0 && take(ids.at(0)) && to_enqueue > 0) {
      int64_t pos = static_cast<int64_t>(history.size()) - 1;  // the position of the next step's input
      std::deque<int64_t> groups;                                 // steps per enqueue in flight
      auto enqueue = [&](bool chain) {
        const int64_t n = std::min(per_launch, to_enqueue);
        SeqChunk c{std::span<const int32_t>(&history.back(), 1), pos, table, false};
        piped->enqueue_greedy({&c, 1}, chain, n);
        groups.push_back(n);
        pos += n;
        to_enqueue -= n;
      };
      enqueue(false);  // its token came back from the prefill
      if (to_enqueue > 0) enqueue(true);
      bool going = true;
      while (!groups.empty()) {
        piped->finish_greedy(ids);
        const int64_t n = groups.front();
        groups.pop_front();
        for (int64_t i = 0; i < n && going; ++i) going = take(ids.at(static_cast<size_t>(i)));
        if (going && to_enqueue > 0) enqueue(true);
      }
    }
  } else {
    for (int64_t i = 0; i < opt.max_tokens; ++i) {
      const int32_t tok = on_device ? ids.at(0) : sampler.sample(logits, history);
      ++drawn;
      if (!take(tok) || i + 1 == opt.max_tokens) break;
      SeqChunk c{std::span<const int32_t>(&history.back(), 1), static_cast<int64_t>(history.size()) - 1, table, false};
      step(c);
    }
  }
  st.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return st;
}

}  // namespace synaptix::engine
