// Crash isolation: every device check here runs inside run_isolated_trials children, so this process never
// initialises CUDA itself (which would forbid forking CUDA children). Faulting, trapping and hanging kernels
// must become failed trials while the trials after them still run.
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/event_timer.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/backend/cuda/nvrtc_compiler.h"
#include "synaptix/backend/cuda/trial_runner.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"

namespace bc = synaptix::backend::cuda;
using synaptix::hw::cuda::check;

namespace {

const char* kSource = R"(
extern "C" __global__ void add_one(float* p, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) p[i] += 1.0f; }
extern "C" __global__ void wild_write(float* p) { *(float*)(0x10) = 1.0f; }
extern "C" __global__ void trap_now(float* p) { asm volatile("trap;"); }
extern "C" __global__ void spin_forever(volatile int* flag) { while (*flag == 0) {} }
)";

// Trial kinds: 0 correct kernel (returns its median ms), 1 illegal address, 2 trap, 3 host segfault, 4 hang.
bc::TrialSession session_for(const std::vector<int>& kinds) {
  return [kinds]() {
    auto ctx = std::make_shared<synaptix::hw::cuda::Context>(0);
    return std::function<std::vector<double>(int)>([kinds, ctx](int i) -> std::vector<double> {
      const bc::Module& m = bc::cached_module(kSource, "trial_runner_test");
      bc::DeviceBuffer buf(1024 * 4);
      check(cuMemsetD32(buf.ptr(), 0, 1024), "memset");
      CUdeviceptr p = buf.ptr();
      switch (kinds[static_cast<size_t>(i)]) {
        case 0: {
          int n = 1024;
          void* args[] = {&p, &n};
          bc::launch(m.function("add_one"), {4}, {256}, 0, nullptr, args, "add_one");
          check(cuCtxSynchronize(), "sync");
          std::vector<float> h = buf.to_host<float>(1024);
          for (float v : h)
            if (v != 1.0f) synaptix::fail("add_one wrote ", v);
          bc::TimingOptions to;
          to.repeats = 5;
          auto t = bc::time_on_stream(nullptr, [&] { bc::launch(m.function("add_one"), {4}, {256}, 0, nullptr, args, "add_one"); }, to);
          return {t.median_ms};
        }
        case 1: {
          void* args[] = {&p};
          bc::launch(m.function("wild_write"), {1}, {1}, 0, nullptr, args, "wild_write");
          check(cuCtxSynchronize(), "sync after wild_write");
          return {};
        }
        case 2: {
          void* args[] = {&p};
          bc::launch(m.function("trap_now"), {1}, {1}, 0, nullptr, args, "trap_now");
          check(cuCtxSynchronize(), "sync after trap_now");
          return {};
        }
        case 3:
          std::raise(SIGSEGV);
          return {};
        default: {
          void* args[] = {&p};
          bc::launch(m.function("spin_forever"), {1}, {1}, 0, nullptr, args, "spin_forever");
          check(cuCtxSynchronize(), "sync after spin_forever");
          return {};
        }
      }
    });
  };
}

}  // namespace

TEST(TrialRunner, GoodTrialsReturnTheirMeasurements) {
  auto r = bc::run_isolated_trials(3, session_for({0, 0, 0}));
  ASSERT_EQ(r.size(), 3u);
  for (const auto& t : r) {
    EXPECT_TRUE(t.ok) << t.error;
    ASSERT_EQ(t.values.size(), 1u);
    EXPECT_GT(t.values[0], 0.0);
  }
}

TEST(TrialRunner, FaultingKernelsFailOnlyTheirOwnTrial) {
  auto r = bc::run_isolated_trials(7, session_for({0, 1, 0, 2, 0, 3, 0}));
  ASSERT_EQ(r.size(), 7u);
  EXPECT_TRUE(r[0].ok) << r[0].error;
  EXPECT_FALSE(r[1].ok);
  EXPECT_NE(r[1].error.find("CUDA_ERROR_ILLEGAL_ADDRESS"), std::string::npos) << r[1].error;
  EXPECT_TRUE(r[2].ok) << r[2].error;
  EXPECT_FALSE(r[3].ok);
  EXPECT_NE(r[3].error.find("sync after trap_now"), std::string::npos) << r[3].error;
  EXPECT_TRUE(r[4].ok) << r[4].error;
  EXPECT_FALSE(r[5].ok);
  EXPECT_NE(r[5].error.find("signal"), std::string::npos) << r[5].error;
  EXPECT_TRUE(r[6].ok) << r[6].error;
}

TEST(TrialRunner, HangingKernelTimesOut) {
  bc::TrialRunnerOptions o;
  o.trial_timeout_s = 5;
  auto r = bc::run_isolated_trials(2, session_for({4, 0}), o);
  EXPECT_FALSE(r[0].ok);
  EXPECT_NE(r[0].error.find("timed out"), std::string::npos) << r[0].error;
  EXPECT_TRUE(r[1].ok) << r[1].error;
}

TEST(CubinCache, SecondCompileIsACacheHitWithTheSameCubin) {
  const std::string src = std::string(kSource) + "\n// cache test " + std::to_string(::getpid()) + "\n";
  auto a = bc::compile_cubin(src, "sm_90a", "cache_test");
  auto b = bc::compile_cubin(src, "sm_90a", "cache_test");
  EXPECT_FALSE(a.from_cache);
  EXPECT_TRUE(b.from_cache);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.cubin, b.cubin);
  auto c = bc::compile_cubin(src, "sm_80", "cache_test");
  EXPECT_NE(a.key, c.key);
}

TEST(CubinCache, CompileErrorNamesTheKernelAndCarriesTheLog) {
  try {
    bc::compile_cubin("extern \"C\" __global__ void broken( { }", "sm_90a", "broken_kernel");
    FAIL() << "expected a compile error";
  } catch (const synaptix::Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken_kernel"), std::string::npos) << e.what();
  }
}

// Last: once this process has initialised CUDA, the runner must refuse to fork CUDA children.
TEST(TrialRunnerZ, RefusesAfterTheParentInitialisedCuda) {
  try {
    synaptix::hw::cuda::init_driver();
  } catch (const synaptix::Error&) {
    // No usable driver here: the process has still touched it, which is what the runner must refuse.
  }
  EXPECT_THROW(bc::run_isolated_trials(1, session_for({0})), synaptix::Error);
}
