#pragma once
// Launcher of RMSNorm (the kernel, its arguments and its source: kernels/rmsnorm/cuda/rmsnorm_cuda.h): compiles
// and loads the kernel through the module cache on first use, then enqueues it on `stream`. Launchers keep their
// op's namespace; they sit in backend/ because they call the driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/rmsnorm/cuda/rmsnorm_cuda.h"

namespace synaptix::kernels::cuda {

void rmsnorm(CUdeviceptr x, CUdeviceptr rows, CUdeviceptr w, CUdeviceptr y, int64_t out_rows, int64_t dim,
             float eps, bool out_bf16, CUstream stream);
// residual[r] += rmsnorm(t[r]) * w for rows r < rows, each of dim (gemma3's post-attention and post-MLP norms).
void rmsnorm_add(CUdeviceptr t, CUdeviceptr w, CUdeviceptr residual, int64_t rows, int64_t dim, float eps,
                 CUstream stream);

}  // namespace synaptix::kernels::cuda
