#include "synaptix/engine/generator.h"

#include <algorithm>
#include <chrono>
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
  // Greedy on an executor that pipelines: the next step is enqueued (its token fed on the device) before
  // the host reads this step's token, so host work and the device overlap; a step enqueued past a stop is
  // finished and dropped (it only wrote K/V past the end of this sequence).
  PipelinedGreedyStep* piped = greedy ? dynamic_cast<PipelinedGreedyStep*>(&ex) : nullptr;
  int in_flight = 0;
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
    for (int64_t i = 0; i < opt.max_tokens; ++i) {
      if (i > 0) {
        piped->finish_greedy(ids);
        --in_flight;
      }
      const int32_t tok = ids.at(0);
      if (!take(tok) || i + 1 == opt.max_tokens) break;
      // Step i + 1 (the input token i) is in flight from the previous iteration unless this is the first.
      const int64_t pos = static_cast<int64_t>(history.size()) - 1;
      SeqChunk c{std::span<const int32_t>(&history.back(), 1), pos, table, false};
      if (i == 0) {
        piped->enqueue_greedy({&c, 1}, false);
        ++in_flight;
      }
      if (i + 2 < opt.max_tokens) {
        SeqChunk n{std::span<const int32_t>(&history.back(), 1), pos + 1, table, false};
        piped->enqueue_greedy({&n, 1}, true);
        ++in_flight;
      }
    }
    for (; in_flight > 0; --in_flight) piped->finish_greedy(ids);
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
