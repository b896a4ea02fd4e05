#pragma once
// Decode steps of a quantized model (its projections in the tensor-core layout, up to 8 tokens) with the
// products' neighbours fused into the stream form of the tensor-core product (backend/cuda/launch/quant_gemv.h),
// as the bf16 GEMV's prologues and epilogues fuse them for bf16 weights: the RMSNorm before q|k|v and before
// gate|up, and the gated activation after gate|up. Two kernels fewer per layer than RMSNorm, product and
// SwiGLU launched apart.
#include <cuda.h>

#include <cstdint>

#include "synaptix/core/dtype.h"
#include "synaptix/engine/cuda/cuda_executor.h"
#include "synaptix/engine/cuda/device_weights.h"
#include "synaptix/kernels/linear/cuda/quant_gemv_cuda.h"

namespace synaptix::engine::cuda {

// y[m, n] = rmsnorm(x)[m, k] W^T (with glu: act[m, n / 2] = glu of y's interleaved gate|up rows, written to y
// instead), x the residual, gamma the norm's f32 weights. Returns false, running nothing, when the step cannot
// take it (fusion off, m > 8 or above quant_mma_max_rows, W not held in the tensor-core layout, a schedule without
// stages, or for glu a row of x longer than one block's slice); the caller then runs the kernels apart.
bool quant_norm_linear(const DeviceWeights& w, const CudaExecutorOptions& opt, CUstream stream, CUdeviceptr x,
                       CUdeviceptr gamma, float eps, CUdeviceptr wt, DType wdt, CUdeviceptr y, int64_t m, int64_t n,
                       int64_t k, kernels::cuda::QuantGlu glu);

}  // namespace synaptix::engine::cuda
