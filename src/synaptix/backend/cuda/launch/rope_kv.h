#pragma once
// Launcher of RoPE fused with the KV-cache write (the kernel, its arguments and its source:
// kernels/rope/cuda/rope_kv_cuda.h): compiles and loads the kernel through the module cache on first use, then
// enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call the
// driver.
#include <cuda.h>

#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"

namespace synaptix::kernels::cuda {

void rope_kv_write(const RopeKvArgs& a, CUstream stream);

}  // namespace synaptix::kernels::cuda
