// Property test: variants of every linear generator equal the reference on random shapes (with n and k
// tails that do not divide the tiles), random points of each declared space, in-process.
#include <gtest/gtest.h>

#include <random>

#include "synaptix/core/error.h"
#include "synaptix/backend/module_builder.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/tune/measurer.h"
#include "synaptix/tune/subject.h"
#include "synaptix/tune/search_space.h"
#include "tune_test_util.h"

namespace synaptix::tune {

TEST(LinearGenerators, RandomVariantsMatchTheReferenceOnRandomShapes) {
  const auto cpu = hw::probe_cpu(false);
  backend::ModuleBuilder builder(testing::scratch_dir("gen"));
  ThreadPool pool(2);
  std::mt19937_64 rng(12345);
  struct Shape { int64_t m_lo, m, n, k; DType w; bool bias; };
  const std::vector<Shape> shapes{{1, 1, 37, 70, DType::BF16, false},
                                  {2, 4, 64, 96, DType::BF16, true},
                                  {5, 16, 24, 33, DType::F16, false},
                                  {17, 64, 40, 128, DType::F32, false},
                                  {65, 80, 16, 48, DType::BF16, false}};
  int checked = 0;
  for (const auto& s : shapes) {
    const auto op = testing::linear_op(s.m_lo, s.m, s.n, s.k, s.w, s.bias);
    auto space = build_space(op, cpu, kernels::cpu_generators());
    ASSERT_FALSE(space.points.empty());
    // Every generator at least once, then random points; tiled points on each isa the CPU has.
    std::vector<Point> pick;
    for (const auto& [g, _] : space.dims)
      for (const auto& p : space.points)
        if (p.generator == g) {
          pick.push_back(p);
          break;
        }
    for (int i = 0; i < 4; ++i) pick.push_back(space.points[rng() % space.points.size()]);
    std::vector<backend::ModuleSource> srcs;
    for (const auto& p : pick) {
      auto ks = kernels::cpu_generator(p.generator).emit(op, p.params);
      srcs.push_back({ks.code, ks.libs});
    }
    auto built = builder.build_all(srcs, 2);
    for (size_t i = 0; i < pick.size(); ++i) {
      ASSERT_TRUE(built[i].ok) << pick[i].key() << "\n" << built[i].error;
      EXPECT_EQ(verify_impl(op, built[i].path, pool, rng()), "")
          << op.signature() << " " << pick[i].key();
      ++checked;
    }
  }
  EXPECT_GE(checked, 25);
}

TEST(LinearGenerators, EveryIsaAndPackingOnOneShape) {
  const auto cpu = hw::probe_cpu(false);
  backend::ModuleBuilder builder(testing::scratch_dir("isa"));
  ThreadPool pool(2);
  const auto op = testing::linear_op(2, 4, 48, 80);
  const auto& gen = kernels::cpu_generator("linear_tiled");
  std::vector<backend::ModuleSource> srcs;
  std::vector<std::string> names;
  const auto dims = gen.space(op, cpu);
  for (const auto& isa : dims[0].values)
    for (bool packed : {false, true}) {
      nlohmann::json p = {{"isa", isa}, {"m_tile", 2}, {"n_tile", 4}, {"k_unroll", 2}, {"rows_per_task", 8},
                          {"threads", "all"}, {"prefetch", 1024}, {"packed", packed}, {"m_block", 0}};
      if (!gen.valid(op, p)) continue;  // k=80 is not a multiple of 16 lanes: no packed avx512
      srcs.push_back({gen.emit(op, p).code, {}});
      names.push_back(p.dump());
    }
  ASSERT_GE(srcs.size(), 3u);
  auto built = builder.build_all(srcs, 2);
  for (size_t i = 0; i < srcs.size(); ++i) {
    ASSERT_TRUE(built[i].ok) << built[i].error;
    EXPECT_EQ(verify_impl(op, built[i].path, pool, 7 + i), "") << names[i];
  }
}

TEST(LinearGenerators, RejectsPointsOutsideTheSpace) {
  const auto op = testing::linear_op(1, 1, 64, 64);
  const auto& gen = kernels::cpu_generator("linear_tiled");
  nlohmann::json p = {{"isa", "avx512"}, {"m_tile", 4}, {"n_tile", 4}, {"k_unroll", 2}, {"rows_per_task", 8},
                      {"threads", "all"}, {"prefetch", 0}, {"packed", false}, {"m_block", 0}};
  EXPECT_FALSE(gen.valid(op, p));  // m_tile 4 > m 1
  EXPECT_THROW(gen.emit(op, p), Error);
  EXPECT_THROW(kernels::cpu_generator("nope"), Error);
}

TEST(LinearMeasurer, ToleranceSeparatesReorderingFromWrongTerms) {
  // Reordering a 4096-term sum of magnitude 1000 moves it by ~1e-4; dropping a term of ~0.25 does not pass.
  EXPECT_TRUE(linear_close(10.0001f, 10.0, 1000.0, 4096));
  EXPECT_FALSE(linear_close(10.25f, 10.0, 1000.0, 4096));
  EXPECT_FALSE(linear_close(std::numeric_limits<float>::quiet_NaN(), 10.0, 1000.0, 4096));
}

}  // namespace synaptix::tune
