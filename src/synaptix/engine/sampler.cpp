#include "synaptix/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

#include "synaptix/kernels/sampling/sample_reference.h"

namespace synaptix::engine {

Sampler::Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history, float* logprob) {
  const int64_t V = static_cast<int64_t>(logits.size());
  // Penalties on tokens already seen (prompt and output), before any truncation.
  if (p_.repetition_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t t : history)
      if (t >= 0 && t < V) ++counts[t];
    for (const auto& [t, c] : counts) {
      float& l = logits[static_cast<size_t>(t)];
      if (p_.repetition_penalty != 1.0f) l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
      l -= p_.frequency_penalty * static_cast<float>(c) + p_.presence_penalty;
    }
  }
  if (p_.temperature <= 0.0f) {
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    if (logprob) {
      const float mx = logits[static_cast<size_t>(best)];
      double sum = 0.0;
      for (float l : logits) sum += std::exp(static_cast<double>(l - mx));
      *logprob = static_cast<float>(-std::log(sum));
    }
    return static_cast<int32_t>(best);
  }
  // Top-k, softmax with temperature, top-p, min-p: the kept set and its renormalised probabilities, as the
  // device sampler's tests check it (kernels/sampling/sample_reference.h).
  const kernels::KeptDistribution kept = kernels::kept_distribution(logits, {p_.temperature, p_.top_k, p_.top_p, p_.min_p});
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double r = u(rng_);
  double acc = 0.0;
  size_t pick = kept.ids.size() - 1;
  for (size_t i = 0; i < kept.ids.size(); ++i) {
    acc += kept.prob[i];
    if (r < acc) {
      pick = i;
      break;
    }
  }
  if (logprob) *logprob = static_cast<float>(std::log(kept.prob[pick]));
  return kept.ids[pick];
}

}  // namespace synaptix::engine
