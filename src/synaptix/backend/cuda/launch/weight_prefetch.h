#pragma once
// Launcher of the L2 weight prefetch (the kernel, its arguments and its source:
// kernels/linear/cuda/weight_prefetch_cuda.h): compiles and loads the kernel through the module cache on first
// use, then enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call
// the driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/linear/cuda/weight_prefetch_cuda.h"

namespace synaptix::kernels::cuda {

// Reads [ptr, ptr + bytes) with L2-only 16-byte loads (bytes rounded down to 16); `blocks` x 256 threads.
void weight_prefetch(CUdeviceptr ptr, int64_t bytes, int blocks, CUstream stream);

}  // namespace synaptix::kernels::cuda
