#pragma once
// Launcher of SwiGLU and the f32 -> bf16 conversions of tensor-core inputs (the kernel, its arguments and its
// source: kernels/swiglu/cuda/swiglu_cuda.h): compiles and loads the kernel through the module cache on first
// use, then enqueues it on `stream`. Launchers keep their op's namespace; they sit in backend/ because they call
// the driver.
#include <cuda.h>

#include <cstdint>

#include "synaptix/kernels/swiglu/cuda/swiglu_cuda.h"

namespace synaptix::kernels::cuda {

void swiglu(CUdeviceptr gu, CUdeviceptr out, int64_t m, int64_t inter, bool out_bf16, CUstream stream);
// The same with gelu_tanh(gate) in place of silu(gate) (geglu_source).
void geglu_tanh(CUdeviceptr gu, CUdeviceptr out, int64_t m, int64_t inter, bool out_bf16, CUstream stream);
// f32 -> bf16 (round to nearest even), n elements: activations entering a tensor-core GEMM.
void to_bf16(CUdeviceptr src, CUdeviceptr dst, int64_t n, CUstream stream);
// x = hi + lo with hi = bf16(x), lo = bf16(x - hi): two bf16 GEMMs over hi and lo give the product with
// ~16 mantissa bits of x instead of 8 (the weights are exactly bf16), for f32-faithful prefill.
void split_bf16(CUdeviceptr src, CUdeviceptr hi, CUdeviceptr lo, int64_t n, CUstream stream);

}  // namespace synaptix::kernels::cuda
