#pragma once
// The statistics behind a quality verdict: a 95% interval for one score (Wilson's score interval, good at
// small n and at 0% or 100%), McNemar's exact test on paired per-item correctness (only the items where the
// two runs disagree carry information), and a paired bootstrap interval for a difference of means.
#include <cstdint>
#include <vector>

namespace synaptix::eval {

struct Interval {
  double lo = 0, hi = 0;
};

// Wilson score interval for `successes` of `n` at confidence z (1.96: 95%).
Interval wilson_interval(int64_t successes, int64_t n, double z = 1.959963984540054);

// Exact (binomial) two-sided McNemar p-value: b items right only in the first run, c right only in the
// second; under the null each discordant item is a fair coin. 1 when b + c == 0.
double mcnemar_exact_p(int64_t b, int64_t c);

// Percentile interval of mean(candidate - incumbent) over `resamples` resamplings of the item pairs,
// deterministic in `seed`; `confidence` in (0, 1).
Interval paired_bootstrap(const std::vector<double>& incumbent, const std::vector<double>& candidate,
                          int64_t resamples = 10000, double confidence = 0.95, uint64_t seed = 1);

}  // namespace synaptix::eval
