// Candidates that crash, hang or compute the wrong thing become failed trials; the test process survives.
#include <gtest/gtest.h>

#include "synaptix/core/error.h"
#include "synaptix/backend/module_builder.h"
#include "synaptix/kernels/generated_abi.h"
#include "synaptix/tune/trial_runner.h"
#include "tune_test_util.h"

namespace synaptix::tune {
namespace {

std::string module_with_body(const std::string& body) {
  return std::string("#include <stdint.h>\nextern \"C\" {\n") + kernels::kGeneratedAbiDecls +
         "\nint32_t synaptix_abi_version(void) { return " + std::to_string(kernels::kGeneratedAbiVersion) +
         "; }\nint64_t synaptix_linear_packed_bytes(void) { return 0; }\n"
         "void synaptix_linear_pack(const void*, void*) {}\n"
         "void synaptix_linear(const synaptix_runtime* rt, const float* x, const void* w, const float* bias, "
         "float* y, int64_t m) {\n" +
         body + "\n}\n}\n";
}

// y = x W^T for the test op (n 16, k 32, bf16 W) in plain loops; from call `corrupt_from` on (0: never) it
// writes zeros instead, as a candidate that is right when verified and wrong once timed would.
std::string linear_body(int corrupt_from) {
  return "static int calls = 0; ++calls; (void)rt; (void)bias;\n"
         "for (int64_t i = 0; i < m; ++i) for (int j = 0; j < 16; ++j) {\n"
         "  float acc = 0;\n"
         "  for (int t = 0; t < 32; ++t) {\n"
         "    uint32_t u = (uint32_t)((const uint16_t*)w)[j * 32 + t] << 16; float f; __builtin_memcpy(&f, &u, 4);\n"
         "    acc += x[i * 32 + t] * f;\n"
         "  }\n"
         "  y[i * 16 + j] = (" + std::to_string(corrupt_from) + " > 0 && calls >= " + std::to_string(corrupt_from) +
         ") ? 0.0f : acc;\n"
         "}";
}

TrialOutcome run_body(const std::string& body, double limit_s) {
  static backend::ModuleBuilder builder(testing::scratch_dir("trial"));
  auto b = builder.build({module_with_body(body), {}});
  EXPECT_TRUE(b.ok) << b.error;
  MeasureOptions mo;
  mo.max_seconds = 0.05;
  RunLimits lim;
  lim.time_limit_s = limit_s;
  lim.threads = 1;
  return run_trial(testing::linear_op(1, 1, 16, 32), b.path, mo, lim, 3);
}

}  // namespace

TEST(TrialRunner, SegfaultingCandidateIsACrash) {
  auto o = run_body("volatile float* p = 0; *p = 1.0f; y[0] = *p;", 20);
  EXPECT_EQ(o.status, TrialStatus::Crash) << o.message;
}

TEST(TrialRunner, HangingCandidateIsATimeout) {
  auto o = run_body("for (volatile int i = 0;; i = i + 1) {}", 1.0);
  EXPECT_EQ(o.status, TrialStatus::Timeout) << o.message;
}

TEST(TrialRunner, AbortingCandidateIsACrash) {
  auto o = run_body("__builtin_trap();", 20);
  EXPECT_EQ(o.status, TrialStatus::Crash) << o.message;
}

TEST(TrialRunner, CandidateThatLeavesOutputUnwrittenIsWrong) {
  auto o = run_body("(void)x; (void)w; (void)bias; (void)m; (void)rt; (void)y;", 20);
  EXPECT_EQ(o.status, TrialStatus::WrongResult);
  EXPECT_NE(o.message.find("NaN"), std::string::npos) << o.message;
}

TEST(TrialRunner, CandidateWithWrongValuesIsWrong) {
  auto o = run_body("for (int64_t i = 0; i < m * 16; ++i) y[i] = 1.0f;", 20);
  EXPECT_EQ(o.status, TrialStatus::WrongResult);
  EXPECT_NE(o.message.find("reference"), std::string::npos) << o.message;
}

TEST(TrialRunner, CandidateThatCorruptsItsOutputDuringTimingIsWrong) {
  // The control: the same loops, never corrupting, pass and are timed.
  auto honest = run_body(linear_body(0), 20);
  ASSERT_EQ(honest.status, TrialStatus::Ok) << honest.message;
  EXPECT_GT(honest.timing.samples, 0);
  EXPECT_EQ(honest.timing.wrong_after, "");
  // Right on its first calls (verification), zeros from the fifth (the warm-up and timed runs): caught by
  // the check after the timed runs.
  auto o = run_body(linear_body(5), 20);
  EXPECT_EQ(o.status, TrialStatus::WrongResult) << o.message;
  EXPECT_NE(o.message.find("after the timed runs"), std::string::npos) << o.message;
}

TEST(TrialRunner, InterleavedFinalistThatCorruptsDuringTimingIsWrong) {
  static backend::ModuleBuilder builder(testing::scratch_dir("trial_fin"));
  auto good = builder.build({module_with_body(linear_body(0)), {}});
  auto bad = builder.build({module_with_body(linear_body(5)), {}});
  ASSERT_TRUE(good.ok && bad.ok) << good.error << bad.error;
  MeasureOptions mo;
  mo.max_seconds = 0.05;
  RunLimits lim;
  lim.threads = 1;
  auto outs = run_interleaved(testing::linear_op(1, 1, 16, 32), {"", good.path, bad.path}, mo, lim, 5);
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].status, TrialStatus::Ok) << outs[0].message;
  EXPECT_EQ(outs[1].status, TrialStatus::Ok) << outs[1].message;
  EXPECT_EQ(outs[2].status, TrialStatus::WrongResult) << outs[2].message;
  EXPECT_NE(outs[2].message.find("after the timed runs"), std::string::npos) << outs[2].message;
}

TEST(TrialRunner, MissingAbiSymbolIsAFailedTrialNotACrashOfTheTuner) {
  static backend::ModuleBuilder builder(testing::scratch_dir("abi"));
  auto b = builder.build({"extern \"C\" int unrelated(void) { return 1; }\n", {}});
  ASSERT_TRUE(b.ok);
  RunLimits lim;
  lim.threads = 1;
  auto o = run_trial(testing::linear_op(1, 1, 16, 32), b.path, {}, lim, 1);
  EXPECT_EQ(o.status, TrialStatus::Crash);
  EXPECT_NE(o.message.find("synaptix_abi_version"), std::string::npos) << o.message;
}

}  // namespace synaptix::tune
