#pragma once
// Launcher of the MoE row gather and scaled scatter-add (the kernel, its arguments and its source:
// kernels/moe/cuda/moe_rows_cuda.h): compiles and loads the kernel through the module cache on first use, then
// enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call the
// driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/moe/cuda/moe_rows_cuda.h"

namespace synaptix::kernels::cuda {

// dst[i, :] = src[rows[i], :], n rows of dim f32.
void gather_rows(CUdeviceptr src, CUdeviceptr rows, CUdeviceptr dst, int64_t n, int64_t dim, CUstream stream);
// dst[rows[i], :] += weights[i] * src[i, :]; rows distinct within one call.
void scatter_add_scaled(CUdeviceptr src, CUdeviceptr rows, CUdeviceptr weights, CUdeviceptr dst, int64_t n,
                        int64_t dim, CUstream stream);

}  // namespace synaptix::kernels::cuda
