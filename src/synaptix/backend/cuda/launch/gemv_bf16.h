#pragma once
// Launcher of the decode GEMV (the kernel, its arguments and its source: kernels/linear/cuda/gemv_bf16.h):
// compiles and loads the kernel through the module cache on first use, then enqueues it on `stream`. Launchers
// keep their op's namespace; they sit in backend/ because they call the driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/linear/cuda/gemv_bf16.h"

namespace synaptix::kernels::cuda {

// Enqueues one call (the kernel is compiled and loaded through the module cache on first use).
// Requires k % 8 == 0 and 16-byte-aligned w; throws naming the shape otherwise.
void gemv_bf16(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int m, int64_t n, int64_t k, bool accumulate,
               const GemvParams& p, CUstream stream, const GemvFusion& f = {});

}  // namespace synaptix::kernels::cuda
