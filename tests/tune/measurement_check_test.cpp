// Times against the target's measured ceilings (tune/measurement_check.h): a time that implies more than the
// read bandwidth (when the inputs came from memory) or the FLOP peak is a measurement fault; honest times
// pass; a warm (cache-resident) timing is held to the FLOP peak only.
#include <gtest/gtest.h>

#include "synaptix/tune/cpu_target.h"
#include "synaptix/tune/measurement_check.h"
#include "tune_test_util.h"

namespace synaptix::tune {
namespace {

Timing timing(double us, bool cold) {
  Timing t;
  t.median_us = t.p10_us = t.p90_us = us;
  t.samples = 10;
  t.cold = cold;
  return t;
}

// 100 GB/s, 1 TFLOP/s f32, no extra margin: round numbers to reason about.
Ceilings tight() {
  Ceilings c;
  c.mem_gbps = 100;
  c.flop_gflops = 1000;
  c.flop_factor_16bit = 2;
  c.flop_factor_8bit = 4;
  c.bandwidth_slack = 1.1;
  c.flop_slack = 1.1;
  return c;
}

}  // namespace

TEST(MeasurementCheck, TimeBeyondTheBandwidthCeilingIsAFault) {
  const graph::Op op = testing::linear_op(1, 1, 4096, 4096);  // bf16: 32 MiB of weights, 2 x 16.8 MFLOP
  const double bytes = op.min_bytes();
  ASSERT_GT(bytes, 4096.0 * 4096 * 2);
  const double at_ceiling_us = bytes / 100e9 * 1e6;
  EXPECT_EQ(implausible_time(op, timing(at_ceiling_us, true), tight()), "") << "exactly the ceiling is honest";
  EXPECT_EQ(implausible_time(op, timing(at_ceiling_us / 1.05, true), tight()), "") << "inside the margin";
  const std::string why = implausible_time(op, timing(at_ceiling_us / 1.5, true), tight());
  EXPECT_NE(why.find("measurement fault"), std::string::npos) << why;
  EXPECT_NE(why.find("GB/s"), std::string::npos) << why;
  // The same time measured warm (inputs in cache) is not held to the memory bandwidth.
  EXPECT_EQ(implausible_time(op, timing(at_ceiling_us / 1.5, false), tight()), "");
}

TEST(MeasurementCheck, TimeBeyondTheFlopPeakIsAFaultWarmOrCold) {
  const graph::Op op = testing::linear_op(65, 256, 1024, 1024, DType::F32);  // 537 MFLOP, f32 products
  const double at_peak_us = op.flops() / 1000e9 * 1e6;
  EXPECT_EQ(implausible_time(op, timing(at_peak_us, false), tight()), "");
  const std::string why = implausible_time(op, timing(at_peak_us / 2, false), tight());
  EXPECT_NE(why.find("GFLOP/s"), std::string::npos) << why;
  // bf16 products may run at twice the f32 peak (VDPBF16PS), not at four times.
  const graph::Op bf16 = testing::linear_op(65, 256, 1024, 1024, DType::BF16);
  EXPECT_EQ(implausible_time(bf16, timing(at_peak_us / 2, false), tight()), "");
  EXPECT_NE(implausible_time(bf16, timing(at_peak_us / 4, false), tight()), "");
}

TEST(MeasurementCheck, NonPositiveTimeIsAFaultAndUnmeasuredCeilingsCheckNothingElse) {
  const graph::Op op = testing::linear_op(1, 1, 64, 64);
  EXPECT_NE(implausible_time(op, timing(0, true), tight()), "");
  EXPECT_EQ(implausible_time(op, timing(1e-9, true), Ceilings{}), "");
}

TEST(MeasurementCheck, CpuCeilingsComeFromTheMeasuredProfile) {
  hw::CpuProfile cpu;
  cpu.mem_read_gbps = 30;
  cpu.fma_gflops = 470;
  cpu.isa.avx512f = true;
  const Ceilings c = cpu_ceilings(cpu);
  EXPECT_EQ(c.mem_gbps, 30);
  EXPECT_GE(c.flop_gflops, 470);
  EXPECT_GT(c.bandwidth_slack, 1.0);
  EXPECT_EQ(cpu_ceilings(hw::CpuProfile{}).mem_gbps, 0) << "an unmeasured profile checks no bandwidth";
}

}  // namespace synaptix::tune
