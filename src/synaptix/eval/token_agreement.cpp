#include "synaptix/eval/token_agreement.h"

#include <algorithm>
#include <cmath>

#include "synaptix/core/error.h"
#include "synaptix/eval/latency_stats.h"

namespace synaptix::eval {
namespace {

// log sum exp over the row, shifted by its maximum so no term overflows.
double log_sum_exp(std::span<const float> row, double& max_out) {
  double mx = -INFINITY;
  for (float v : row) mx = std::max(mx, static_cast<double>(v));
  double s = 0;
  for (float v : row) s += std::exp(static_cast<double>(v) - mx);
  max_out = mx;
  return mx + std::log(s);
}

}  // namespace

double token_nll(std::span<const float> logits, int32_t target) {
  if (target < 0 || static_cast<size_t>(target) >= logits.size())
    fail("token id ", target, " is outside the vocabulary of ", logits.size());
  double mx = 0;
  return log_sum_exp(logits, mx) - static_cast<double>(logits[static_cast<size_t>(target)]);
}

double kl_divergence(std::span<const float> reference, std::span<const float> candidate) {
  if (reference.size() != candidate.size())
    fail("KL divergence over rows of ", reference.size(), " and ", candidate.size(), " logits: vocabularies differ");
  double mp = 0, mq = 0;
  const double lp = log_sum_exp(reference, mp), lq = log_sum_exp(candidate, mq);
  double kl = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double logp = static_cast<double>(reference[i]) - lp;
    const double logq = static_cast<double>(candidate[i]) - lq;
    kl += std::exp(logp) * (logp - logq);
  }
  return std::max(kl, 0.0);  // rounding can leave a tiny negative sum for identical rows
}

int32_t top1(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

void TokenAgreement::add(std::span<const float> reference, std::span<const float> candidate) {
  kl_.push_back(kl_divergence(reference, candidate));
  same_.push_back(top1(reference) == top1(candidate) ? 1 : 0);
}

double TokenAgreement::mean_kl() const {
  if (kl_.empty()) return 0;
  double s = 0;
  for (double v : kl_) s += v;
  return s / static_cast<double>(kl_.size());
}

double TokenAgreement::p99_kl() const { return kl_.empty() ? 0 : percentile(kl_, 99); }

double TokenAgreement::same_top1_rate() const {
  if (same_.empty()) return 0;
  int64_t n = 0;
  for (uint8_t s : same_) n += s;
  return static_cast<double>(n) / static_cast<double>(same_.size());
}

}  // namespace synaptix::eval
