#pragma once
// Launcher of the sampled token per logits row (the kernel, its arguments and its source:
// kernels/sampling/cuda/sample_cuda.h): compiles and loads the kernel through the module cache on first use,
// then enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call the
// driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/sampling/cuda/sample_cuda.h"

namespace synaptix::kernels::cuda {

// ids[r] = a token drawn from row r of logits [rows, vocab] (f32) under `p`. Throws synaptix::Error on a
// bad shape (vocab must be below 2^24) or bad parameters.
void sample_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, const DeviceSampling& p,
                 CUstream stream);

}  // namespace synaptix::kernels::cuda
