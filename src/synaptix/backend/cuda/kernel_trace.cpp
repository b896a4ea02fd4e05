#include "synaptix/backend/cuda/kernel_trace.h"

#include <algorithm>
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"

namespace synaptix::backend::cuda {

namespace {
KernelTrace* g_trace = nullptr;
}  // namespace

KernelTrace* active_trace() { return g_trace; }

KernelTrace::KernelTrace(size_t capacity) : capacity_(capacity), buf_((1 + 2 * capacity) * sizeof(uint64_t)) {
  if (g_trace) fail("KernelTrace: a trace is already active");
  if (capacity == 0) fail("KernelTrace: capacity must be > 0");
  buf_.fill_bytes(0);
  std::ostringstream os;
  os << "#define SYNAPTIX_TRACE_BUF 0x" << std::hex << buf_.ptr() << "ull\n#define SYNAPTIX_TRACE_CAP " << std::dec
     << capacity << "ull\n";
  prefix_ = os.str();
  g_trace = this;
}

KernelTrace::~KernelTrace() { g_trace = nullptr; }

void KernelTrace::clear() {
  hw::cuda::check(cuCtxSynchronize(), "cuCtxSynchronize");
  buf_.fill_bytes(0);
}

std::vector<TraceRecord> KernelTrace::read() const {
  hw::cuda::check(cuCtxSynchronize(), "cuCtxSynchronize");
  const std::vector<uint64_t> raw = buf_.to_host<uint64_t>(1 + 2 * capacity_);
  const size_t n = std::min<size_t>(raw[0], capacity_);
  std::vector<TraceRecord> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = {raw[1 + 2 * i], raw[2 + 2 * i]};
  // The slot order is the order of the atomic increments; sort by the return from the wait to be exact.
  std::stable_sort(out.begin(), out.end(), [](const TraceRecord& a, const TraceRecord& b) { return a.wait_exit_ns < b.wait_exit_ns; });
  return out;
}

void KernelTrace::note_launch(const char* what, CUstream stream) {
  CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
  cuuint64_t id = 0;
#if CUDA_VERSION >= 13000
  hw::cuda::check(cuStreamGetCaptureInfo(stream, &st, &id, nullptr, nullptr, nullptr, nullptr), "cuStreamGetCaptureInfo");
#else
  hw::cuda::check(cuStreamGetCaptureInfo_v2(stream, &st, &id, nullptr, nullptr, nullptr), "cuStreamGetCaptureInfo");
#endif
  if (st != CU_STREAM_CAPTURE_STATUS_ACTIVE) return;
  // A new capture (two may follow each other with no launch between): its launches replace the last one's.
  if (id != capture_id_) names_.clear();
  capture_id_ = id;
  names_.emplace_back(what);
}

}  // namespace synaptix::backend::cuda
