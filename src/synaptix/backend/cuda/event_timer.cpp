#include "synaptix/backend/cuda/event_timer.h"

#include <algorithm>
#include <string>
#include <vector>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::backend::cuda {

using hw::cuda::check;

namespace {
// The flush reads a buffer twice the L2 size. Reading (not writing, as a memset would) leaves no dirty lines
// behind whose write-back would be charged to the timed kernel.
const std::string kFlushSource(kernels::cuda_source("backend/cuda/l2_flush.cu"));
}  // namespace

TimingStats time_on_stream(CUstream stream, const std::function<void()>& work, const TimingOptions& opt) {
  if (opt.repeats < 1) fail("time_on_stream: repeats must be >= 1, got ", opt.repeats);
  DeviceBuffer flush;
  if (opt.flush_l2) {
    CUdevice dev = 0;
    check(cuCtxGetDevice(&dev), "cuCtxGetDevice");
    int l2 = 0;
    check(cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev), "cuDeviceGetAttribute(L2)");
    flush = DeviceBuffer(static_cast<size_t>(std::max(l2, 1 << 20)) * 2 + 16);
    check(cuMemsetD8(flush.ptr(), 1, flush.bytes()), "cuMemsetD8 of the L2 flush buffer");
  }
  CUfunction flush_fn = opt.flush_l2 ? cached_kernel("l2_flush_read", [] { return std::string(kFlushSource); }, "l2_flush_read") : nullptr;
  CUdeviceptr fp = flush.ptr(), fout = flush.ptr() + flush.bytes() - 16;
  unsigned long long fn = (flush.bytes() - 16) / 16;
  void* fargs[] = {&fp, &fn, &fout};
  for (int i = 0; i < opt.warmup; ++i) work();
  check(cuStreamSynchronize(stream), "cuStreamSynchronize after warm-up");

  std::vector<CUevent> start(opt.repeats), stop(opt.repeats);
  for (int i = 0; i < opt.repeats; ++i) {
    check(cuEventCreate(&start[i], CU_EVENT_DEFAULT), "cuEventCreate");
    check(cuEventCreate(&stop[i], CU_EVENT_DEFAULT), "cuEventCreate");
  }
  std::vector<double> ms(opt.repeats);
  try {
    for (int i = 0; i < opt.repeats; ++i) {
      if (opt.flush_l2) launch(flush_fn, {1024}, {256}, 0, stream, fargs, "l2_flush_read");
      check(cuEventRecord(start[i], stream), "cuEventRecord");
      work();
      check(cuEventRecord(stop[i], stream), "cuEventRecord");
    }
    check(cuStreamSynchronize(stream), "cuStreamSynchronize after timed repeats");
    for (int i = 0; i < opt.repeats; ++i) {
      float t = 0;
      check(cuEventElapsedTime(&t, start[i], stop[i]), "cuEventElapsedTime");
      ms[i] = t;
    }
  } catch (...) {
    for (int i = 0; i < opt.repeats; ++i) {
      cuEventDestroy(start[i]);
      cuEventDestroy(stop[i]);
    }
    throw;
  }
  for (int i = 0; i < opt.repeats; ++i) {
    cuEventDestroy(start[i]);
    cuEventDestroy(stop[i]);
  }
  std::sort(ms.begin(), ms.end());
  TimingStats s;
  s.repeats = opt.repeats;
  s.min_ms = ms.front();
  s.max_ms = ms.back();
  s.p10_ms = ms[static_cast<size_t>(opt.repeats / 10)];
  s.p90_ms = ms[static_cast<size_t>(opt.repeats * 9 / 10 < opt.repeats ? opt.repeats * 9 / 10 : opt.repeats - 1)];
  s.median_ms = opt.repeats % 2 ? ms[opt.repeats / 2] : 0.5 * (ms[opt.repeats / 2 - 1] + ms[opt.repeats / 2]);
  return s;
}

}  // namespace synaptix::backend::cuda
