#include "synaptix/engine/sampler.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

using namespace synaptix::engine;

namespace {
std::vector<float> logits() { return {1.0f, 3.0f, 2.0f, 0.5f, 2.9f, -1.0f}; }

std::vector<int32_t> draw(const SamplingParams& p, int n) {
  Sampler s(p);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    auto l = logits();
    out.push_back(s.sample(l, {}));
  }
  return out;
}
}  // namespace

TEST(Sampler, GreedyIsArgmax) {
  SamplingParams p;
  EXPECT_EQ(draw(p, 1)[0], 1);
}

TEST(Sampler, SeedReproducible) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  EXPECT_EQ(draw(p, 50), draw(p, 50));
  SamplingParams q = p;
  q.seed = 43;
  EXPECT_NE(draw(p, 50), draw(q, 50));
}

TEST(Sampler, TopKAndTopPTruncate) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 2;
  for (int32_t t : draw(p, 200)) EXPECT_TRUE(t == 1 || t == 4) << t;
  SamplingParams q;
  q.temperature = 1.0f;
  q.top_p = 0.5f;  // p(1) ~ 0.37, p(4) ~ 0.33: the nucleus is {1, 4}
  for (int32_t t : draw(q, 200)) EXPECT_TRUE(t == 1 || t == 4) << t;
  SamplingParams r;
  r.temperature = 1.0f;
  r.min_p = 0.5f;  // keeps tokens with p >= 0.5 * p(max): 1, 4 and 2 (e^-1 = 0.37 < 0.5 drops 2)
  std::map<int32_t, int> seen;
  for (int32_t t : draw(r, 300)) ++seen[t];
  EXPECT_EQ(seen.size(), 2u);
}

TEST(Sampler, PenaltiesChangeTheChoice) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;  // 3.0 -> 1.5 for token 1: token 4 (2.9) wins
  Sampler s(p);
  auto l = logits();
  std::vector<int32_t> hist = {1};
  EXPECT_EQ(s.sample(l, hist), 4);
  SamplingParams f;
  f.frequency_penalty = 0.5f;  // token 1 seen twice: 3.0 - 1.0 = 2.0 < 2.9
  Sampler s2(f);
  auto l2 = logits();
  std::vector<int32_t> hist2 = {1, 1};
  EXPECT_EQ(s2.sample(l2, hist2), 4);
  SamplingParams pr;
  pr.presence_penalty = 0.05f;  // 3.0 - 0.05 = 2.95 > 2.9: still token 1
  Sampler s3(pr);
  auto l3 = logits();
  EXPECT_EQ(s3.sample(l3, hist), 1);
}

TEST(Sampler, LogprobOfGreedy) {
  SamplingParams p;
  Sampler s(p);
  auto l = logits();
  float lp = 0;
  s.sample(l, {}, &lp);
  double z = 0;
  for (float v : logits()) z += std::exp(v - 3.0);
  EXPECT_NEAR(lp, -std::log(z), 1e-5);
}
