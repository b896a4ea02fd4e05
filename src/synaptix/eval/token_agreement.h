#pragma once
// How far one model's next-token distributions are from a reference's on the same tokens: the KL divergence
// KL(reference || candidate) per token (llama-perplexity's --kl-divergence convention), its mean and 99th
// percentile, and how often both put the same token on top. Logits are raw (pre-softmax) rows; the softmax
// is taken here in double precision so that a run compared with itself gives exactly 0.
#include <cstdint>
#include <span>
#include <vector>

namespace synaptix::eval {

// -log softmax(logits)[target], in nats.
double token_nll(std::span<const float> logits, int32_t target);
// KL(softmax(reference) || softmax(candidate)) in nats; both rows of the same vocabulary.
double kl_divergence(std::span<const float> reference, std::span<const float> candidate);
// The lowest id among equal maxima (as the engine's greedy step).
int32_t top1(std::span<const float> logits);

class TokenAgreement {
 public:
  void add(std::span<const float> reference, std::span<const float> candidate);
  int64_t tokens() const { return static_cast<int64_t>(kl_.size()); }
  double mean_kl() const;
  double p99_kl() const;
  double same_top1_rate() const;  // in [0, 1]
  const std::vector<double>& per_token_kl() const { return kl_; }
  const std::vector<uint8_t>& per_token_same_top1() const { return same_; }

 private:
  std::vector<double> kl_;
  std::vector<uint8_t> same_;
};

}  // namespace synaptix::eval
