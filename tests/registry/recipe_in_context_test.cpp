// The in-context check's decisions, driven by step times given as a function of which groups a recipe
// variant holds (the app times real steps; here the step's cost is known, so the right verdict is too).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/registry/recipe_in_context.h"

namespace sr = synaptix::registry;

namespace {

sr::RecipeKernel kernel(const std::string& generator, int64_t m_lo, int64_t m_hi, int64_t n) {
  sr::RecipeKernel k;
  k.generator = generator;
  k.m_lo = m_lo;
  k.m_hi = m_hi;
  k.n = n;
  k.k = 64;
  k.signature = "linear m=" + std::to_string(m_hi) + " n=" + std::to_string(n) + " " + generator;
  k.baseline_us = 10;
  return k;
}

// Step time: 100 ms plus, for each group present in the variant, its cost (negative: it helps).
sr::StepTimeFn additive(const std::map<std::string, double>& cost, int* calls = nullptr) {
  return [cost, calls](const sr::Recipe& r, const std::string& bucket) {
    if (calls) ++*calls;
    std::set<std::string> present;
    for (const auto& k : r.kernels)
      if (sr::recipe_kernel_bucket(k) == bucket) present.insert(sr::recipe_kernel_group(k));
    double ms = 100;
    for (const auto& g : present) ms += cost.at(g);
    return ms;
  };
}

sr::Recipe recipe() {
  sr::Recipe r;
  r.kernels = {kernel("openblas_gemm", 65, 256, 2048), kernel("openblas_gemm", 65, 256, 8192),
               kernel("add_rmsnorm_1t", 65, 256, 2048), kernel("linear_tiled", 65, 256, 512),
               kernel("linear_bf16dot", 1, 1, 2048), kernel("linear_tiled", 5, 16, 2048)};
  return r;
}

}  // namespace

TEST(RecipeInContext, BucketsFollowTheKernelsRows) {
  EXPECT_EQ(sr::recipe_kernel_bucket(kernel("g", 1, 1, 8)), "1");
  EXPECT_EQ(sr::recipe_kernel_bucket(kernel("g", 2, 4, 8)), "2-4");
  EXPECT_EQ(sr::recipe_kernel_bucket(kernel("g", 5, 16, 8)), "5-16");
  EXPECT_EQ(sr::recipe_kernel_bucket(kernel("g", 17, 64, 8)), "17-64");
  EXPECT_EQ(sr::recipe_kernel_bucket(kernel("g", 65, 256, 8)), "65-256");
  EXPECT_EQ(sr::recipe_kernel_group(kernel("openblas_gemm", 65, 256, 8)), "65-256 openblas_gemm");
}

TEST(RecipeInContext, DropsTheGroupsThatSlowTheStepAndKeepsTheOthers) {
  sr::Recipe r = recipe();
  const auto v = sr::check_recipe_groups(r,
                                         additive({{"65-256 openblas_gemm", +30}, {"65-256 add_rmsnorm_1t", -5},
                                                   {"65-256 linear_tiled", -20}, {"1 linear_bf16dot", -10},
                                                   {"5-16 linear_tiled", +1}}),
                                         0.03, [] { return false; });
  EXPECT_FALSE(v.out_of_time);
  // +1 ms of 101 is under the 3% threshold: noise, kept.
  EXPECT_EQ(v.dropped, (std::set<std::string>{"65-256 openblas_gemm"}));
  ASSERT_EQ(v.lines.size(), 5u);
  sr::drop_recipe_groups(r, v);
  ASSERT_EQ(r.kernels.size(), 4u);
  for (const auto& k : r.kernels) EXPECT_NE(k.generator, "openblas_gemm");
  ASSERT_EQ(r.untuned.size(), 2u);
  for (const auto& u : r.untuned) {
    EXPECT_NE(u["signature"].get<std::string>().find("openblas_gemm"), std::string::npos);
    EXPECT_NE(u["dropped"].get<std::string>().find("slower in context"), std::string::npos) << u.dump();
    EXPECT_NE(u["dropped"].get<std::string>().find("ms with"), std::string::npos) << u.dump();
  }
}

TEST(RecipeInContext, ALaterGroupIsJudgedWithoutTheGroupsAlreadyDropped) {
  // The norm only hurts while OpenBLAS is there (they fight for the same cache); once OpenBLAS is gone it
  // helps. The check must time the norm against the step without OpenBLAS, and keep it.
  sr::Recipe r = recipe();
  const sr::StepTimeFn step = [](const sr::Recipe& v, const std::string& bucket) {
    bool blas = false, norm = false;
    for (const auto& k : v.kernels)
      if (sr::recipe_kernel_bucket(k) == bucket) {
        blas |= k.generator == "openblas_gemm";
        norm |= k.generator == "add_rmsnorm_1t";
      }
    return 100.0 + (blas ? 30 : 0) + (norm ? (blas ? 10 : -8) : 0);
  };
  const auto v = sr::check_recipe_groups(r, step, 0.03, [] { return false; });
  EXPECT_EQ(v.dropped, (std::set<std::string>{"65-256 openblas_gemm"}));
}

TEST(RecipeInContext, OneNoisyMeasurementDropsNothing) {
  // The first time without the group reads fast, every later one slow: the confirmation keeps it.
  sr::Recipe r;
  r.kernels = {kernel("linear_tiled", 65, 256, 512)};
  int calls = 0;
  const sr::StepTimeFn step = [&calls](const sr::Recipe& v, const std::string&) {
    ++calls;
    if (!v.kernels.empty()) return 100.0;
    return calls == 2 ? 50.0 : 110.0;
  };
  const auto v = sr::check_recipe_groups(r, step, 0.03, [] { return false; });
  EXPECT_TRUE(v.dropped.empty());
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(v.lines[0]["verdict"], "kept");
}

TEST(RecipeInContext, OutOfTimeKeepsTheRestUnchecked) {
  sr::Recipe r = recipe();
  int calls = 0, asked = 0;
  const auto v = sr::check_recipe_groups(r, additive({{"65-256 openblas_gemm", +30}, {"65-256 add_rmsnorm_1t", +30},
                                                      {"65-256 linear_tiled", +30}, {"1 linear_bf16dot", +30},
                                                      {"5-16 linear_tiled", +30}},
                                                     &calls),
                                         0.03, [&asked] { return ++asked > 1; });
  EXPECT_TRUE(v.out_of_time);
  // The prefill bucket is checked first: its first group is the one timed.
  EXPECT_EQ(v.dropped, (std::set<std::string>{"65-256 openblas_gemm"}));
  ASSERT_EQ(v.lines.size(), 5u);
  int unchecked = 0;
  for (const auto& l : v.lines) unchecked += l["verdict"] == "unchecked (out of time)";
  EXPECT_EQ(unchecked, 4);
}

TEST(RecipeInContext, AStepThatFailsIsReportedNotSwallowed) {
  sr::Recipe r = recipe();
  const sr::StepTimeFn step = [](const sr::Recipe&, const std::string& bucket) -> double {
    synaptix::fail("the ", bucket, " step failed");
  };
  EXPECT_THROW(sr::check_recipe_groups(r, step, 0.03, [] { return false; }), synaptix::Error);
}

// The case the split was made for: one generator's GEMM loses at 128 rows and wins at 256. With one bucket per
// range its 65-128 kernels go and its 129-256 kernels stay; the larger bucket is judged first.
TEST(RecipeInContext, EachPrefillBucketIsJudgedOnItsOwn) {
  sr::Recipe r;
  r.kernels = {kernel("openblas_gemm", 65, 128, 2048), kernel("openblas_gemm", 129, 256, 2048),
               kernel("linear_bf16dot", 1, 1, 2048)};
  std::vector<std::string> buckets;
  const auto cost = additive({{"65-128 openblas_gemm", +20}, {"129-256 openblas_gemm", -5}, {"1 linear_bf16dot", -10}});
  const auto v = sr::check_recipe_groups(
      r, [&](const sr::Recipe& variant, const std::string& bucket) {
        if (buckets.empty() || buckets.back() != bucket) buckets.push_back(bucket);
        return cost(variant, bucket);
      },
      0.03, [] { return false; });
  EXPECT_EQ(v.dropped, (std::set<std::string>{"65-128 openblas_gemm"}));
  EXPECT_EQ(buckets, (std::vector<std::string>{"129-256", "65-128", "1"}));
  sr::drop_recipe_groups(r, v);
  ASSERT_EQ(r.kernels.size(), 2u);
  EXPECT_EQ(r.kernels[0].m_lo, 129);
}
