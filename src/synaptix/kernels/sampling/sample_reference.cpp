#include "synaptix/kernels/sampling/sample_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "synaptix/core/error.h"

namespace synaptix::kernels {

KeptDistribution kept_distribution(std::span<const float> logits, const SampleFilter& f) {
  if (logits.empty()) fail("kept_distribution: empty logits row");
  if (!(f.temperature > 0.0f)) fail("kept_distribution: temperature ", f.temperature, " must be > 0");
  const size_t V = logits.size();
  std::vector<int32_t> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  size_t keep = V;
  if (f.top_k > 0 && static_cast<size_t>(f.top_k) < V) keep = static_cast<size_t>(f.top_k);
  const auto before = [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(keep), idx.end(), before);
  idx.resize(keep);
  std::vector<double> prob(keep);
  const double mx = logits[static_cast<size_t>(idx[0])];
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) sum += prob[i] = std::exp((logits[static_cast<size_t>(idx[i])] - mx) / f.temperature);
  for (double& p : prob) p /= sum;
  KeptDistribution out;
  out.margin = std::numeric_limits<double>::infinity();
  size_t n = keep;
  if (f.top_p < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < keep; ++i) {
      out.margin = std::min(out.margin, std::fabs(cum - f.top_p));
      cum += prob[i];
      if (cum >= f.top_p) {
        out.margin = std::min(out.margin, cum - f.top_p);
        n = i + 1;
        break;
      }
    }
  }
  if (f.min_p > 0.0f) {
    size_t m = 1;
    while (m < n && prob[m] >= f.min_p * prob[0]) ++m;
    for (size_t i = 1; i < n; ++i) out.margin = std::min(out.margin, std::fabs(prob[i] / prob[0] - f.min_p));
    n = m;
  }
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += prob[i];
  out.ids.assign(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n));
  out.prob.resize(n);
  for (size_t i = 0; i < n; ++i) out.prob[i] = prob[i] / total;
  return out;
}

}  // namespace synaptix::kernels
