#pragma once
// Token sampling from one row of logits: penalties, temperature, top-k, top-p, min-p, seeded RNG.
#include <cstdint>
#include <random>
#include <span>

namespace synaptix::engine {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // 0: off
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;  // HF/CTRL style: logits of seen tokens divided (>0) or multiplied (<0)
  float frequency_penalty = 0.0f;   // OpenAI style: minus count * penalty
  float presence_penalty = 0.0f;    // OpenAI style: minus penalty once seen
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p);
  // `logits` is modified in place; `history` is the prompt and generated tokens (for penalties).
  // Returns the chosen token id; with `logprob` non-null, stores log p(chosen) under the final distribution.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, float* logprob = nullptr);
  const SamplingParams& params() const { return p_; }

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
};

}  // namespace synaptix::engine
