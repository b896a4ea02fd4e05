#pragma once
// A generation request as the serving engine sees it, and the scheduler's view of one in flight (Sequence):
// its tokens, how many of them have KV in the cache, and the blocks that hold it.
#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/engine/prefix_cache.h"
#include "synaptix/engine/sampler.h"

namespace synaptix::engine {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 16;
  int64_t min_tokens = 0;  // end-of-sequence tokens are not accepted before this many outputs
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;  // besides the model's end-of-sequence tokens
  bool logprobs = false;
};

enum class FinishReason { None, Length, Stop, Cancelled, Error };
const char* finish_reason_name(FinishReason r);  // OpenAI spelling: "length", "stop", ...

struct Sequence {
  uint64_t id = 0;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int64_t prompt_len = 0;
  int64_t num_computed = 0;  // tokens [0, num_computed) have KV in `blocks`
  std::vector<int32_t> blocks;
  std::vector<BlockHash> block_hashes;  // hashes of the full blocks [0, block_hashes.size()) of `tokens`
  int64_t num_cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache at the last admission
  int64_t num_preemptions = 0;

  int64_t num_output() const { return static_cast<int64_t>(tokens.size()) - prompt_len; }
  int64_t num_pending() const { return static_cast<int64_t>(tokens.size()) - num_computed; }
};

}  // namespace synaptix::engine
