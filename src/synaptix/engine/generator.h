#pragma once
// Single-sequence generation on an executor: prefill the prompt in chunks, then decode one token a step
// until EOS, max tokens, or the caller's callback says stop (stop strings are the caller's, via
// StopMatcher, since they are text). Uses blocks 0..n-1 of the executor's KV cache.
#include <cstdint>
#include <functional>
#include <vector>

#include "synaptix/engine/executor.h"
#include "synaptix/engine/sampler.h"

namespace synaptix::engine {

struct GenerateOptions {
  int64_t max_tokens = 64;
  SamplingParams sampling;
  std::vector<int64_t> eos_ids;  // stop when one of these is sampled (it is not returned)
  int64_t prefill_chunk = 512;   // prompt tokens per step
  // Greedy decode on an executor that pipelines: steps run back to back per launch (multi-step scheduling;
  // capped by the executor). Tokens reach on_token in groups of this many, and up to twice this many steps
  // past a stop are computed and dropped.
  int64_t greedy_steps_per_launch = 8;
  Pipelining pipelining = Pipelining::Auto;  // Auto: where the executor's enqueue overlaps the host (a device)
};

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  std::string finish_reason;  // "stop" (EOS or callback) or "length"
};

// on_token returns false to stop (e.g. a stop string matched). Throws synaptix::Error when the prompt plus
// max_tokens does not fit the model's context or the executor's KV cache.
GenerateStats generate(Executor& ex, const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                       const std::function<bool(int32_t)>& on_token);

}  // namespace synaptix::engine
