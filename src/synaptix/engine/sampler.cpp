#include "synaptix/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <vector>

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
  // Candidates sorted by logit; top-k, then softmax with temperature, then top-p and min-p.
  std::vector<int32_t> idx(static_cast<size_t>(V));
  std::iota(idx.begin(), idx.end(), 0);
  size_t keep = idx.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < keep) keep = static_cast<size_t>(p_.top_k);
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(keep), idx.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] || (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  });
  idx.resize(keep);
  std::vector<double> prob(keep);
  const double mx = logits[static_cast<size_t>(idx[0])];
  double sum = 0.0;
  for (size_t i = 0; i < keep; ++i) sum += prob[i] = std::exp((logits[static_cast<size_t>(idx[i])] - mx) / p_.temperature);
  for (auto& p : prob) p /= sum;
  size_t n = keep;
  if (p_.top_p < 1.0f) {
    double cum = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      cum += prob[i];
      if (cum >= p_.top_p) {
        n = i + 1;
        break;
      }
    }
  }
  if (p_.min_p > 0.0f) {
    const double floor = p_.min_p * prob[0];
    size_t m = 1;
    while (m < n && prob[m] >= floor) ++m;
    n = m;
  }
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total += prob[i];
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_), acc = 0.0;
  size_t pick = n - 1;
  for (size_t i = 0; i < n; ++i) {
    acc += prob[i];
    if (r < acc) {
      pick = i;
      break;
    }
  }
  if (logprob) *logprob = static_cast<float>(std::log(prob[pick] / total));
  return idx[pick];
}

}  // namespace synaptix::engine
