#pragma once
// Summaries of latency samples: percentiles (linear interpolation between closest ranks, as numpy's
// default), mean, min, max.
#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace synaptix::eval {

// q in [0, 100]; the samples need not be sorted. Throws synaptix::Error on an empty sample or q out of range.
double percentile(std::vector<double> samples, double q);

struct LatencySummary {
  int64_t count = 0;
  double mean = 0, min = 0, max = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0;
};
LatencySummary summarize(const std::vector<double>& samples);  // all zero (count 0) for an empty sample
nlohmann::json to_json(const LatencySummary& s);

}  // namespace synaptix::eval
