// The sampling oracle (kept set and renormalised probabilities) against hand-computed cases and against the
// distribution engine::Sampler actually draws from.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/engine/sampler.h"
#include "synaptix/kernels/sampling/sample_reference.h"

namespace kr = synaptix::kernels;

TEST(KeptDistribution, TopKKeepsTheLargestLogitsWithTiesToTheLowerId) {
  const std::vector<float> l = {1.0f, 3.0f, 2.0f, 0.5f, 3.0f};
  for (float t : {1.0f, 0.5f}) {
    const auto d = kr::kept_distribution(l, {t, 3, 1.0f, 0.0f});
    ASSERT_EQ(d.ids, (std::vector<int32_t>{1, 4, 2}));
    const double e = std::exp(-1.0 / t), z = 2 + e;
    EXPECT_NEAR(d.prob[0], 1 / z, 1e-12);
    EXPECT_NEAR(d.prob[1], 1 / z, 1e-12);
    EXPECT_NEAR(d.prob[2], e / z, 1e-12);
    EXPECT_TRUE(std::isinf(d.margin));
  }
  // A top-k boundary through a tie keeps the lower id.
  EXPECT_EQ(kr::kept_distribution(l, {1.0f, 1, 1.0f, 0.0f}).ids, (std::vector<int32_t>{1}));
}

TEST(KeptDistribution, NucleusIsTheShortestPrefixReachingTopP) {
  // Probabilities 4/7, 2/7, 1/7 at temperature 1.
  const std::vector<float> l = {std::log(2.0f), 0.0f, std::log(4.0f)};
  EXPECT_EQ(kr::kept_distribution(l, {1.0f, 0, 0.5f, 0.0f}).ids, (std::vector<int32_t>{2}));
  const auto d = kr::kept_distribution(l, {1.0f, 0, 0.8f, 0.0f});
  ASSERT_EQ(d.ids, (std::vector<int32_t>{2, 0}));
  EXPECT_NEAR(d.prob[0], 2.0 / 3.0, 1e-6);
  EXPECT_NEAR(d.prob[1], 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(d.margin, 6.0 / 7.0 - 0.8, 1e-6);
  // top_p <= 0 still keeps the first token.
  EXPECT_EQ(kr::kept_distribution(l, {1.0f, 0, 0.0f, 0.0f}).ids, (std::vector<int32_t>{2}));
}

TEST(KeptDistribution, MinPIsRelativeToTheTopProbability) {
  const std::vector<float> l = {std::log(2.0f), 0.0f, std::log(4.0f)};
  // Floor 0.3 * 4/7: keeps 4/7 and 2/7, drops 1/7.
  const auto d = kr::kept_distribution(l, {1.0f, 0, 1.0f, 0.3f});
  EXPECT_EQ(d.ids, (std::vector<int32_t>{2, 0}));
  EXPECT_NEAR(d.margin, 0.05, 1e-6);  // p / p_top = 1/2 and 1/4 against 0.3
  // min_p above 1 keeps only the first token.
  EXPECT_EQ(kr::kept_distribution(l, {1.0f, 0, 1.0f, 2.0f}).ids, (std::vector<int32_t>{2}));
}

TEST(KeptDistribution, RejectsBadInput) {
  EXPECT_THROW(kr::kept_distribution(std::vector<float>{}, {}), synaptix::Error);
  EXPECT_THROW(kr::kept_distribution(std::vector<float>{1.0f}, {0.0f, 0, 1.0f, 0.0f}), synaptix::Error);
}

// What the host Sampler draws, over many draws, is the oracle's distribution: no token outside the kept set,
// and every frequency within 5 standard deviations.
TEST(KeptDistribution, MatchesWhatTheHostSamplerDraws) {
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.0f, 2.0f);
  std::vector<float> logits(60);
  for (float& x : logits) x = n(rng);
  struct Case { float t; int k; float p, m; };
  for (const Case c : {Case{0.7f, 0, 1.0f, 0.0f}, Case{1.0f, 10, 1.0f, 0.0f}, Case{1.3f, 0, 0.8f, 0.0f},
                       Case{0.9f, 20, 0.9f, 0.05f}}) {
    const auto ref = kr::kept_distribution(logits, {c.t, c.k, c.p, c.m});
    ASSERT_GT(ref.margin, 1e-6);
    synaptix::engine::SamplingParams sp;
    sp.temperature = c.t;
    sp.top_k = c.k;
    sp.top_p = c.p;
    sp.min_p = c.m;
    sp.seed = 42;
    synaptix::engine::Sampler s(sp);
    const int N = 40000;
    std::map<int32_t, int> counts;
    for (int i = 0; i < N; ++i) {
      std::vector<float> row = logits;
      ++counts[s.sample(row, {})];
    }
    std::map<int32_t, double> want;
    for (size_t i = 0; i < ref.ids.size(); ++i) want[ref.ids[i]] = ref.prob[i];
    for (const auto& [tok, cnt] : counts) ASSERT_TRUE(want.count(tok)) << "token " << tok << " outside the kept set";
    for (const auto& [tok, p] : want) {
      const double got = counts.count(tok) ? counts[tok] : 0;
      EXPECT_LE(std::fabs(got - N * p), 5 * std::sqrt(N * p * (1 - p)) + 1) << "token " << tok << " t=" << c.t;
    }
  }
}
