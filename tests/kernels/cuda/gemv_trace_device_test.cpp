// The kernel timeline (backend/cuda/kernel_trace.h) on real GEMV launches. It lives with the kernel tests
// because test_backend_cuda's process must never initialise CUDA (its trials fork CUDA children).
#include <gtest/gtest.h>

#include <vector>

#include "support/cuda_device.h"
#include "synaptix/backend/cuda/kernel_trace.h"
#include "synaptix/backend/cuda/launch/gemv_bf16.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/hw/cuda/driver.h"

namespace bc = synaptix::backend::cuda;
namespace kc = synaptix::kernels::cuda;
using synaptix::hw::cuda::check;
using synaptix::testing::cuda_context;
using synaptix::testing::device_sync;

namespace {

struct Gemv {
  int64_t n = 256, k = 512;
  bc::DeviceBuffer x{static_cast<size_t>(512 * 4)}, w{static_cast<size_t>(256 * 512 * 2)}, y{static_cast<size_t>(256 * 4)};
  Gemv() {
    x.fill_bytes(0);
    w.fill_bytes(0);
  }
  void launch(CUstream s) { kc::gemv_bf16(x.ptr(), w.ptr(), y.ptr(), 1, n, k, false, kc::gemv_default_params(1, n, k), s); }
};

TEST(KernelTrace, OneRecordPerLaunchInLaunchOrderAndCapturedNamesCarryTheShape) {
  cuda_context();
  Gemv g;
  CUstream stream = nullptr;
  check(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  {
    bc::KernelTrace trace(64);
    ASSERT_EQ(bc::active_trace(), &trace);
    bc::PdlScope pdl(true);
    for (int i = 0; i < 3; ++i) g.launch(stream);
    std::vector<bc::TraceRecord> r = trace.read();
    ASSERT_EQ(r.size(), 3u);
    for (size_t i = 0; i < r.size(); ++i) {
      EXPECT_GT(r[i].wait_enter_ns, 0u);
      EXPECT_LE(r[i].wait_enter_ns, r[i].wait_exit_ns);
      if (i) {
        EXPECT_LE(r[i - 1].wait_exit_ns, r[i].wait_exit_ns);
      }
    }
    EXPECT_TRUE(trace.captured_launches().empty());  // nothing was captured yet

    // Two launches captured into a graph: their names are noted once; each replay records both.
    CUgraph graph = nullptr;
    check(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture");
    g.launch(stream);
    g.launch(stream);
    check(cuStreamEndCapture(stream, &graph), "cuStreamEndCapture");
    CUgraphExec exec = nullptr;
    check(cuGraphInstantiate(&exec, graph, 0), "cuGraphInstantiate");
    ASSERT_EQ(trace.captured_launches(), (std::vector<std::string>{"gemv_bf16 256x512", "gemv_bf16 256x512"}));
    trace.clear();
    for (int i = 0; i < 4; ++i) check(cuGraphLaunch(exec, stream), "cuGraphLaunch");
    EXPECT_EQ(trace.read().size(), 8u);
    check(cuGraphExecDestroy(exec), "cuGraphExecDestroy");
    check(cuGraphDestroy(graph), "cuGraphDestroy");
  }
  // Without a trace the same GEMV runs its untraced module again.
  EXPECT_EQ(bc::active_trace(), nullptr);
  g.launch(stream);
  check(cuStreamSynchronize(stream), "cuStreamSynchronize");
  device_sync();
  check(cuStreamDestroy(stream), "cuStreamDestroy");
}

TEST(KernelTrace, OnlyOneTraceAtATime) {
  cuda_context();
  bc::KernelTrace a(4);
  EXPECT_THROW(bc::KernelTrace b(4), std::exception);
  EXPECT_EQ(bc::active_trace(), &a);
}

}  // namespace
