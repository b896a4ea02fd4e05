// The verdict statistics against textbook values: Wilson intervals (Wilson 1927; the worked values in
// Newcombe 1998, Table I), McNemar's exact test (binomial tail, worked by hand), and the paired bootstrap's
// behaviour where its answer is known.
#include "synaptix/eval/paired_stats.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace synaptix::eval;

TEST(PairedStats, WilsonIntervalTextbookValues) {
  // Newcombe (1998) Table I: 81/263 -> 0.2553..0.3662; 15/148 -> 0.0624..0.1605; 0/20 -> 0..0.1611.
  auto a = wilson_interval(81, 263);
  EXPECT_NEAR(a.lo, 0.2553, 5e-5);
  EXPECT_NEAR(a.hi, 0.3662, 5e-5);
  auto b = wilson_interval(15, 148);
  EXPECT_NEAR(b.lo, 0.0624, 5e-5);
  EXPECT_NEAR(b.hi, 0.1605, 5e-5);
  auto c = wilson_interval(0, 20);
  EXPECT_EQ(c.lo, 0.0);
  EXPECT_NEAR(c.hi, 0.1611, 5e-5);
}

TEST(PairedStats, McNemarExactByHand) {
  // b = 10, c = 2: p = 2 * P(X <= 2 | n = 12, 1/2) = 2 * (1 + 12 + 66) / 4096.
  EXPECT_NEAR(mcnemar_exact_p(10, 2), 2.0 * 79.0 / 4096.0, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(2, 10), 2.0 * 79.0 / 4096.0, 1e-12);
  // b = c: no evidence either way (the two-sided tail is capped at 1).
  EXPECT_EQ(mcnemar_exact_p(5, 5), 1.0);
  EXPECT_EQ(mcnemar_exact_p(0, 0), 1.0);
  // b = 6, c = 0: 2 / 64.
  EXPECT_NEAR(mcnemar_exact_p(6, 0), 2.0 / 64.0, 1e-12);
  // Large n stays finite: 600 vs 400 is far beyond 95%.
  EXPECT_LT(mcnemar_exact_p(600, 400), 1e-9);
}

TEST(PairedStats, PairedBootstrapKnownCases) {
  // Every pair differs by exactly +1: every resample's mean difference is 1.
  std::vector<double> a(50, 0.0), b(50, 1.0);
  auto i = paired_bootstrap(a, b, 2000);
  EXPECT_EQ(i.lo, 1.0);
  EXPECT_EQ(i.hi, 1.0);
  // A mixed sample: the interval brackets the observed mean difference and is deterministic in the seed.
  std::vector<double> x, y;
  for (int k = 0; k < 100; ++k) {
    x.push_back(k % 3 == 0);
    y.push_back(k % 4 == 0);
  }
  double mean = 0;
  for (size_t k = 0; k < x.size(); ++k) mean += (y[k] - x[k]) / 100.0;
  auto j = paired_bootstrap(x, y, 4000, 0.95, 7);
  EXPECT_LT(j.lo, mean);
  EXPECT_GT(j.hi, mean);
  auto again = paired_bootstrap(x, y, 4000, 0.95, 7);
  EXPECT_EQ(j.lo, again.lo);
  EXPECT_EQ(j.hi, again.hi);
}
