#include "synaptix/eval/paired_stats.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "synaptix/core/error.h"
#include "synaptix/eval/latency_stats.h"

namespace synaptix::eval {

Interval wilson_interval(int64_t successes, int64_t n, double z) {
  if (n <= 0) return {0, 1};
  if (successes < 0 || successes > n) fail("wilson_interval: ", successes, " successes of ", n);
  const double N = static_cast<double>(n), p = static_cast<double>(successes) / N, z2 = z * z;
  const double centre = (p + z2 / (2 * N)) / (1 + z2 / N);
  const double half = z / (1 + z2 / N) * std::sqrt(p * (1 - p) / N + z2 / (4 * N * N));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

double mcnemar_exact_p(int64_t b, int64_t c) {
  const int64_t n = b + c, k = std::min(b, c);
  if (n == 0) return 1;
  // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so large n does not overflow.
  double tail = 0;
  for (int64_t i = 0; i <= k; ++i) {
    const double log_term = std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(i) + 1) -
                            std::lgamma(static_cast<double>(n - i) + 1) - static_cast<double>(n) * std::log(2.0);
    tail += std::exp(log_term);
  }
  return std::min(1.0, 2 * tail);
}

Interval paired_bootstrap(const std::vector<double>& incumbent, const std::vector<double>& candidate,
                          int64_t resamples, double confidence, uint64_t seed) {
  if (incumbent.size() != candidate.size()) fail("paired_bootstrap: ", incumbent.size(), " and ", candidate.size(), " items");
  if (incumbent.empty() || resamples <= 0) return {0, 0};
  const size_t n = incumbent.size();
  std::vector<double> diff(n);
  for (size_t i = 0; i < n; ++i) diff[i] = candidate[i] - incumbent[i];
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += diff[pick(rng)];
    m = s / static_cast<double>(n);
  }
  const double tail = (1 - confidence) / 2 * 100;
  return {percentile(means, tail), percentile(means, 100 - tail)};
}

}  // namespace synaptix::eval
