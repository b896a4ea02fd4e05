#pragma once
// Launcher of the paged attention and the fused RoPE + decode attention (the kernel, its arguments and its
// source: kernels/attention/cuda/paged_attention_cuda.h): compiles and loads the kernel through the module cache
// on first use, then enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because
// they call the driver.
#include <cuda.h>

#include "synaptix/kernels/attention/cuda/paged_attention_cuda.h"

namespace synaptix::kernels::cuda {

void paged_attention(const PagedAttentionArgs& a, CUstream stream);
void decode_attention_rope(const DecodeAttentionArgs& a, CUstream stream);

}  // namespace synaptix::kernels::cuda
