// linear_onednn (oneDNN's bf16 matmul, single-threaded in each pool task on a slice of W's rows): every
// schedule, on shapes with n not a multiple of the 16-row slices, m from 1 to 70 and a bias, passes the
// tuner's check against linear_reference with the bf16 rounding of x allowed for, and no more.
#include <gtest/gtest.h>

#include "synaptix/backend/module_builder.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/tune/measurer.h"
#include "synaptix/tune/search_space.h"
#include "tune_test_util.h"

namespace synaptix::tune {

TEST(LinearOneDnn, EverySchedulePassesTheCheckForBf16Activations) {
  const auto cpu = hw::probe_cpu(false);
  const auto& gen = kernels::cpu_generator("linear_onednn");
  const auto probe = testing::linear_op(1, 1, 64, 64);
  if (!gen.applies(probe, cpu)) GTEST_SKIP() << "no oneDNN headers at build time, or no AVX-512 BF16 here";
  backend::ModuleBuilder builder(testing::scratch_dir("onednn"));
  ThreadPool pool(2);
  std::vector<backend::ModuleSource> srcs;
  std::vector<graph::Op> ops;
  for (const auto& op : {testing::linear_op(1, 1, 100, 96), testing::linear_op(5, 7, 37, 70, DType::BF16, true),
                         testing::linear_op(65, 70, 130, 64)})
    for (const auto& p : build_space(op, cpu, {&gen}).points) {
      const auto ks = gen.emit(op, p.params);
      srcs.push_back({ks.code, ks.libs});
      ops.push_back(op);
    }
  ASSERT_EQ(srcs.size(), 9u);  // three schedules per shape
  const auto built = builder.build_all(srcs, 2);
  for (size_t i = 0; i < srcs.size(); ++i) {
    ASSERT_TRUE(built[i].ok) << built[i].error;
    EXPECT_EQ(verify_impl(ops[i], built[i].path, pool, 21 + i), "") << ops[i].signature();
  }
  EXPECT_EQ(gen.activations({}), "bf16");
  for (const auto& p : build_space(probe, cpu, kernels::cpu_generators(), {"f32"}).points)
    EXPECT_NE(p.generator, "linear_onednn") << "offered only where bf16 activations are allowed";
}

TEST(LinearOneDnn, GgufBlocksExpandedToBf16PassTheCheckAndOnlyForBatches) {
  const auto cpu = hw::probe_cpu(false);
  const auto& gen = kernels::cpu_generator("linear_onednn");
  if (!gen.applies(testing::linear_op(1, 1, 64, 64), cpu)) GTEST_SKIP() << "no oneDNN headers at build time, or no AVX-512 BF16 here";
  backend::ModuleBuilder builder(testing::scratch_dir("onednn_gguf"));
  ThreadPool pool(2);
  std::vector<backend::ModuleSource> srcs;
  std::vector<graph::Op> ops;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q8_0}) {
    // Decode rows: the expansion would cost more than it saves; not offered.
    EXPECT_FALSE(gen.applies(testing::linear_op(1, 1, 64, 64, t), cpu)) << dtype_name(t);
    EXPECT_FALSE(gen.applies(testing::linear_op(65, 128, 64, 48, t), cpu)) << "k = 48 is not whole blocks";
    for (const auto& op : {testing::linear_op(5, 7, 37, 96, t, true), testing::linear_op(65, 70, 130, 64, t)}) {
      const auto pts = build_space(op, cpu, {&gen}).points;
      ASSERT_FALSE(pts.empty()) << op.signature();
      const auto ks = gen.emit(op, pts.front().params);
      srcs.push_back({ks.code, ks.libs});
      ops.push_back(op);
    }
  }
  const auto built = builder.build_all(srcs, 2);
  for (size_t i = 0; i < srcs.size(); ++i) {
    ASSERT_TRUE(built[i].ok) << built[i].error;
    EXPECT_EQ(verify_impl(ops[i], built[i].path, pool, 41 + i), "") << ops[i].signature();
  }
}

}  // namespace synaptix::tune
