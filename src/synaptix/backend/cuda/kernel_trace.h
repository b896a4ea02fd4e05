#pragma once
// A timeline of kernels as they run inside a CUDA graph, for diagnosis (Nsight Systems is not available on
// every machine, and Nsight Compute times kernels one at a time, which hides what PDL overlap and kernel
// boundaries cost). While a KernelTrace is alive, kernels compiled from then on record, from block (0,0,0),
// the device's global timer when they reach pdl_wait() and when it returns (the moment their predecessor
// had finished): one record per launch. Launch names are noted while a stream is being captured, so the
// records of each graph replay line up with the launches of the last capture.
#include <cuda.h>

#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/backend/cuda/device_buffer.h"

namespace synaptix::backend::cuda {

struct TraceRecord {
  uint64_t wait_enter_ns = 0;  // block (0,0,0) reached pdl_wait()
  uint64_t wait_exit_ns = 0;   // pdl_wait() returned: the previous kernel had completed
};

class KernelTrace {
 public:
  // Room for `capacity` records; at most one trace is alive at a time.
  explicit KernelTrace(size_t capacity);
  ~KernelTrace();
  KernelTrace(const KernelTrace&) = delete;
  KernelTrace& operator=(const KernelTrace&) = delete;

  // Drops the records so far (synchronous).
  void clear();
  // The records in the order kernels passed pdl_wait() (synchronises the device); at most capacity.
  std::vector<TraceRecord> read() const;
  // Launch names of the last stream capture, in launch order.
  const std::vector<std::string>& captured_launches() const { return names_; }

  // Called by launch(): notes `what` when `stream` is capturing.
  void note_launch(const char* what, CUstream stream);
  // Prepended to every kernel source compiled while this trace is alive (it changes the source's hash, so
  // traced and untraced cubins never share a cache entry).
  const std::string& source_prefix() const { return prefix_; }

 private:
  size_t capacity_;
  DeviceBuffer buf_;  // [0]: record count; then 2 u64 per record
  std::string prefix_;
  std::vector<std::string> names_;
  uint64_t capture_id_ = 0;  // the capture whose launches names_ holds (ids start at 1)
};

// The live trace, or null.
KernelTrace* active_trace();

}  // namespace synaptix::backend::cuda
