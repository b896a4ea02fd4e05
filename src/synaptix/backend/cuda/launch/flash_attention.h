#pragma once
// Launcher of the tensor-core prefill attention (the kernel, its arguments and its source:
// kernels/attention/cuda/flash_attention_cuda.h): compiles and loads the kernel through the module cache on
// first use, then enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because
// they call the driver.
#include <cuda.h>

#include "synaptix/kernels/attention/cuda/flash_attention_cuda.h"

namespace synaptix::kernels::cuda {

void flash_attention(const FlashAttentionArgs& a, CUstream stream);

}  // namespace synaptix::kernels::cuda
