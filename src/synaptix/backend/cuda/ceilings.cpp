#include "synaptix/backend/cuda/ceilings.h"

#include "synaptix/backend/cuda/cublaslt_matmul.h"
#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/device_random.h"
#include "synaptix/backend/cuda/event_timer.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::backend::cuda {
namespace {

// Each thread keeps four independent 16-byte loads in flight per iteration; the xor-sum is written only
// when it hits an impossible value, so the loads cannot be optimised away and almost nothing is written.
const std::string kReadSource(kernels::cuda_source("backend/cuda/stream_read.cu"));

}  // namespace


BandwidthMeasurement measure_hbm_read_bandwidth(size_t bytes, int repeats) {
  bytes &= ~static_cast<size_t>(15);
  if (bytes < (64u << 20)) fail("measure_hbm_read_bandwidth: buffer of ", bytes, " bytes is too small to leave L2");
  DeviceBuffer buf(bytes), out(16);
  hw::cuda::check(cuMemsetD32(buf.ptr(), 0x3f803f80u, bytes / 4), "cuMemsetD32");
  CUfunction f = cached_module(kReadSource, "stream_read").function("stream_read");
  CUdevice dev = 0;
  hw::cuda::check(cuCtxGetDevice(&dev), "cuCtxGetDevice");
  int sms = 0;
  hw::cuda::check(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "SM count");
  CUdeviceptr p = buf.ptr(), o = out.ptr();
  unsigned long long n = bytes / 16;
  void* args[] = {&p, &n, &o};
  TimingOptions opt;
  opt.repeats = repeats;
  opt.flush_l2 = true;
  TimingStats t = time_on_stream(nullptr, [&] { launch(f, {static_cast<unsigned>(sms * 4)}, {1024}, 0, nullptr, args, "stream_read"); }, opt);
  BandwidthMeasurement m;
  m.bytes = static_cast<double>(bytes);
  m.median_ms = t.median_ms;
  m.gbps = m.bytes / (t.median_ms * 1e-3) / 1e9;
  return m;
}

GemmPeakMeasurement measure_bf16_gemm_peak(int64_t n, int repeats) {
  const size_t elems = static_cast<size_t>(n) * static_cast<size_t>(n);
  DeviceBuffer a(elems * 2), b(elems * 2), c(elems * 2);
  // Random operands: zeros run measurably faster than real data.
  fill_uniform_bf16(a.ptr(), elems, 11, 1.0f, nullptr);
  fill_uniform_bf16(b.ptr(), elems, 12, 1.0f, nullptr);
  BlasLtMatmul mm;
  return time_gemm_peak(n, repeats, [&] { mm.run(a.ptr(), b.ptr(), c.ptr(), DType::BF16, n, n, n, nullptr); });
}

GemmPeakMeasurement time_gemm_peak(int64_t n, int repeats, const std::function<void()>& work) {
  TimingOptions opt;
  opt.repeats = repeats;
  opt.flush_l2 = false;
  const TimingStats t = time_on_stream(nullptr, work, opt);
  GemmPeakMeasurement g;
  g.n = n;
  g.median_ms = t.median_ms;
  g.tflops = 2.0 * static_cast<double>(n) * n * n / (t.median_ms * 1e-3) / 1e12;
  return g;
}

}  // namespace synaptix::backend::cuda
