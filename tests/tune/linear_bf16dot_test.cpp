// linear_bf16dot (VDPBF16PS, x rounded to bf16): every schedule of a few shapes (k and n tails, m up to 7,
// bias) passes the tuner's check against linear_reference, whose bound widens by the bf16 rounding of x only
// for modules that declare it; the same code without the declaration fails the exact check. The search
// offers its points only when bf16 activations are allowed.
#include <gtest/gtest.h>

#include "synaptix/backend/module_builder.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/tune/measurer.h"
#include "synaptix/tune/search_space.h"
#include "tune_test_util.h"

namespace synaptix::tune {

TEST(LinearBf16Dot, EverySchedulePassesTheCheckThatAllowsForBf16Activations) {
  const auto cpu = hw::probe_cpu(false);
  if (!cpu.isa.avx512_bf16) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  backend::ModuleBuilder builder(testing::scratch_dir("bf16dot"));
  ThreadPool pool(2);
  const auto& gen = kernels::cpu_generator("linear_bf16dot");
  std::vector<backend::ModuleSource> srcs;
  std::vector<graph::Op> ops;
  for (const auto& op : {testing::linear_op(1, 1, 37, 96), testing::linear_op(5, 7, 20, 70, DType::BF16, true),
                         testing::linear_op(2, 4, 64, 33)}) {
    for (const auto& p : build_space(op, cpu, {&gen}).points) {
      // A spread of schedules: every m_tile x n_tile x k_unroll, all threads, a prefetch.
      if (p.params["threads"] != "all" || p.params["rows_per_task"] != 8 || p.params["prefetch"] != 1024) continue;
      srcs.push_back({gen.emit(op, p.params).code, {}});
      ops.push_back(op);
    }
  }
  ASSERT_GE(srcs.size(), 12u);
  const auto built = builder.build_all(srcs, 2);
  for (size_t i = 0; i < srcs.size(); ++i) {
    ASSERT_TRUE(built[i].ok) << built[i].error;
    EXPECT_EQ(verify_impl(ops[i], built[i].path, pool, 11 + i), "") << ops[i].signature() << "\n" << srcs[i].code.substr(0, 200);
  }

  // Without declaring its rounding, the same kernel is held to the exact bound, and fails it.
  std::string undeclared = srcs[0].code;
  const std::string decl = "extern \"C\" const char* synaptix_linear_activations(void) { return \"bf16\"; }";
  const auto at = undeclared.find(decl);
  ASSERT_NE(at, std::string::npos);
  undeclared.erase(at, decl.size());
  const auto b = builder.build({undeclared, {}});
  ASSERT_TRUE(b.ok) << b.error;
  EXPECT_NE(verify_impl(ops[0], b.path, pool, 5).find("wrong result"), std::string::npos);
}

TEST(LinearBf16Dot, OfferedOnlyWhereBf16ActivationsAreAllowed) {
  const auto cpu = hw::probe_cpu(false);
  if (!cpu.isa.avx512_bf16) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  const auto op = testing::linear_op(1, 1, 64, 128);
  auto count = [&](const std::vector<std::string>& acts) {
    int n = 0;
    for (const auto& p : build_space(op, cpu, kernels::cpu_generators(), acts).points) n += p.generator == "linear_bf16dot";
    return n;
  };
  EXPECT_GT(count({}), 0);
  EXPECT_GT(count({"f32", "bf16"}), 0);
  EXPECT_EQ(count({"f32"}), 0);
  EXPECT_EQ(count({"f32", "q8"}), 0);
  // Mutation stays inside the allowed roundings.
  const auto space = build_space(op, cpu, kernels::cpu_generators(), {"f32"});
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    const auto q = mutate(space.points[rng() % space.points.size()], space, op, rng);
    EXPECT_EQ(kernels::cpu_generator(q.generator).activations(q.params), "f32") << q.key();
  }
}

}  // namespace synaptix::tune
