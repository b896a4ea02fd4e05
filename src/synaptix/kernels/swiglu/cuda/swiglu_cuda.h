#pragma once
// SwiGLU on the device over the fused gate|up projection: gu is [m, 2 * inter] (gate first, then up, as the
// executor concatenates the two weights), out[m, inter] = silu(gate) * up, f32 or bf16.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

// The kernel source of swiglu and to_bf16 (for compile checks and the cubin cache).
std::string swiglu_source();

void swiglu(CUdeviceptr gu, CUdeviceptr out, int64_t m, int64_t inter, bool out_bf16, CUstream stream);

// f32 -> bf16 (round to nearest even), n elements: activations entering a tensor-core GEMM.
void to_bf16(CUdeviceptr src, CUdeviceptr dst, int64_t n, CUstream stream);
// x = hi + lo with hi = bf16(x), lo = bf16(x - hi): two bf16 GEMMs over hi and lo give the product with
// ~16 mantissa bits of x instead of 8 (the weights are exactly bf16), for f32-faithful prefill.
void split_bf16(CUdeviceptr src, CUdeviceptr hi, CUdeviceptr lo, int64_t n, CUstream stream);

}  // namespace synaptix::kernels::cuda
