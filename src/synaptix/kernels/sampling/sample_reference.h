#pragma once
// The oracle of non-greedy sampling (what engine::Sampler draws from, penalties aside): the exact kept set
// and its renormalised probabilities, in double. Order: logits sorted descending (ties: lower id first),
// top-k, softmax with temperature over those, the top-p nucleus (shortest prefix whose mass reaches top_p),
// then min-p (probability >= min_p * the top probability); the first token is always kept.
#include <cstdint>
#include <span>
#include <vector>

namespace synaptix::kernels {

struct SampleFilter {
  float temperature = 1.0f;  // > 0
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // >= 1: off
  float min_p = 0.0f;        // 0: off
};

struct KeptDistribution {
  std::vector<int32_t> ids;  // in sampling order (descending logit, lower id first among ties)
  std::vector<double> prob;  // renormalised over the kept set; sums to 1
  // How far the nearest top-p / min-p decision was from flipping: min over the decisions of
  // |cumulative mass - top_p| and |p / p_top - min_p| (infinity when no such filter is active). Inputs
  // with a tiny margin are ill-conditioned: a last-bit difference in float arithmetic changes the set.
  double margin = 0;
};

// Throws synaptix::Error on an empty row or a temperature that is not > 0.
KeptDistribution kept_distribution(std::span<const float> logits, const SampleFilter& f);

}  // namespace synaptix::kernels
