#include "synaptix/eval/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"

namespace synaptix::eval {

double percentile(std::vector<double> s, double q) {
  if (s.empty()) fail("percentile of an empty sample");
  if (!(q >= 0.0 && q <= 100.0)) fail("percentile: q must be in [0, 100], got ", q);
  std::sort(s.begin(), s.end());
  const double rank = q / 100.0 * static_cast<double>(s.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (s[hi] - s[lo]) * (rank - static_cast<double>(lo));
}

LatencySummary summarize(const std::vector<double>& s) {
  LatencySummary r;
  if (s.empty()) return r;
  r.count = static_cast<int64_t>(s.size());
  r.mean = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
  r.min = *std::min_element(s.begin(), s.end());
  r.max = *std::max_element(s.begin(), s.end());
  r.p50 = percentile(s, 50);
  r.p90 = percentile(s, 90);
  r.p95 = percentile(s, 95);
  r.p99 = percentile(s, 99);
  return r;
}

nlohmann::json to_json(const LatencySummary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"min", s.min}, {"max", s.max},
          {"p50", s.p50},     {"p90", s.p90},   {"p95", s.p95}, {"p99", s.p99}};
}

}  // namespace synaptix::eval
