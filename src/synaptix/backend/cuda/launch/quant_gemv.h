#pragma once
// Launchers of the weight-format kernels (kernels/linear/cuda/quant_gemv_cuda.h): compiled and loaded through
// the module cache on first use, enqueued on `stream`. W is n packed rows of the format (as the CPU quantizer
// writes them, quant/weight_format.h).
#include <cuda.h>

#include <cstdint>

#include "synaptix/core/dtype.h"
#include "synaptix/kernels/linear/cuda/quant_gemv_cuda.h"

namespace synaptix::kernels::cuda {

// y[m, n] (+)= x[m, k] W^T, x and y f32, 1 <= m <= 8. Throws synaptix::Error naming the format and shape when
// w is not a weight format, k is not a whole number of its groups (or not a multiple of 4), or x is not
// 16-byte aligned.
void quant_gemv(DType w, CUdeviceptr x, CUdeviceptr wt, CUdeviceptr y, int m, int64_t n, int64_t k, bool accumulate,
                CUstream stream, const QuantGemvParams& p);
void quant_gemv(DType w, CUdeviceptr x, CUdeviceptr wt, CUdeviceptr y, int m, int64_t n, int64_t k, bool accumulate,
                CUstream stream);
// Scratch bytes quant_mma needs for m rows of x (their f16 copy and scales).
size_t quant_mma_scratch_bytes(DType w, int m, int64_t k);
// y[m, n] (+)= x[m, k] W^T on tensor cores, W at wmma in the tensor-core layout (kernels/linear/cuda/
// quant_mma_layout.h), x f32 (bf16 when x_bf16), 1 <= m <= kQuantMmaMaxRows. Two launches: x to f16 in scratch
// (quant_mma_scratch_bytes), then the product; a schedule with stages (the default up to 8 rows) runs the stream form instead
// (quant_mma_stream.cu: one launch, no scratch; a memset of y first when it cuts k without accumulating). Throws synaptix::Error naming the format and shape like
// quant_gemv, and when the scratch is too small or x misaligned.
// The runtime side of a QuantMmaFusion (stream form only): gamma (f32 [k], 16-byte aligned) and eps of the
// RMSNorm; the gated activation's output (f32 [m, n / 2], written instead of y).
struct QuantMmaFusedArgs {
  QuantMmaFusion fusion;
  CUdeviceptr gamma = 0;
  float eps = 0;
  CUdeviceptr glu_out = 0;
};
void quant_mma(DType w, CUdeviceptr x, bool x_bf16, CUdeviceptr wmma, CUdeviceptr y, int m, int64_t n, int64_t k,
               bool accumulate, CUdeviceptr scratch, size_t scratch_bytes, CUstream stream, const QuantMmaParams& p,
               const QuantMmaFusedArgs& fusion = {});
// Whether quant_mma takes the fusion for (w, m, n, k) under schedule p: the stream form (stages, m <= 8), and with a
// gated activation one k slice (x's whole row fits the block) and an even n.
bool quant_mma_fusable(DType w, int m, int64_t n, int64_t k, const QuantMmaParams& p, const QuantMmaFusion& fu);
// out[n, k] bf16 = W at wmma in the tensor-core layout expanded, as quant_dequantize_bf16 expands the packed rows
// (bit for bit the same values).
void quant_mma_dequantize_bf16(DType w, CUdeviceptr wmma, CUdeviceptr out, int64_t n, int64_t k, CUstream stream);
// out[n, k] bf16 = the packed W expanded (each element rounded to nearest even from the reference's f32 value).
void quant_dequantize_bf16(DType w, CUdeviceptr wt, CUdeviceptr out, int64_t n, int64_t k, CUstream stream);

}  // namespace synaptix::kernels::cuda
