#pragma once
// Pinned host memory mapped for the device: a decode step's kernels read its metadata and write its token
// ids there directly, so no copy sits on the stream between two graph replays.
#include <cuda.h>

#include <cstddef>
#include <cstdint>

#include "synaptix/hw/cuda/driver.h"

namespace synaptix::engine::cuda {

class PinnedInts {
 public:
  explicit PinnedInts(size_t n) : n_(n) {
    void* p = nullptr;
    hw::cuda::check(cuMemHostAlloc(&p, n * sizeof(int32_t), CU_MEMHOSTALLOC_DEVICEMAP), "cuMemHostAlloc");
    p_ = static_cast<int32_t*>(p);
    hw::cuda::check(cuMemHostGetDevicePointer(&dev_, p, 0), "cuMemHostGetDevicePointer");
  }
  ~PinnedInts() {
    if (p_) cuMemFreeHost(p_);
  }
  PinnedInts(const PinnedInts&) = delete;
  PinnedInts& operator=(const PinnedInts&) = delete;
  int32_t* data() { return p_; }
  CUdeviceptr device_ptr() const { return dev_; }
  size_t size() const { return n_; }

 private:
  int32_t* p_ = nullptr;
  CUdeviceptr dev_ = 0;
  size_t n_ = 0;
};

}  // namespace synaptix::engine::cuda
