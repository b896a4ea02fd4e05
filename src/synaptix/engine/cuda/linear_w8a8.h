#pragma once
// The CUDA executor's W8A8 FP8 product (CudaExecutorOptions::fp8_activations: the recipe's precision
// "activations": "fp8"): y[m, n] (+)= (xs[i] * ws[j]) * sum_k e4m3(x)[i, k] * wq[j, k] for a matrix in
// fp8-e4m3-pc held in its tensor-core layout (kernels/linear/quant_mma_layout.h). x (f32 or bf16) is
// quantized per token to E4M3 codes and an f32 scale into scratch (the format's own rounding: amax / 448),
// the product is cuBLASLt's E4M3 GEMM with f32 accumulation (backend/cuda/cublaslt_fp8.h), and the weights'
// per-channel scales are read in place from the layout's scale region (an f32 per padded row: exactly the
// per-row vector the GEMM's scaling takes).
//
// The weight codes: cuBLASLt takes FP8 operands only as K-major rows ("TN"), and the tensor-core layout
// interleaves 16 rows x 64 k per KB, which no cuBLASLt matrix layout (a leading dimension, a batch stride)
// describes. So the codes are rewritten row-major (fp8_codes_from_mma): by default per product into one
// scratch the size of the largest matrix (no memory cost; n * k bytes read and written per product), or with
// `resident` once at construction (n * k bytes more per matrix: every projection's codes held twice, +1 byte
// per weight). H100, Llama-3.1-8B shapes, 2048 tokens (gpu-bench --fp8-prefill): the linear layers at 0.46x of
// the FP8 GEMM's peak per product, 0.55x resident; a whole prefill step 1.11x, resident 1.27x the bf16
// expansion's speed, resident at 16.1 GB of weights instead of 9.1. Hopper's cuBLASLt applies no per-row x
// per-column scales itself, so an f32 pass over the output does (the largest cost after the GEMM).
#include <cuda.h>

#include <cstdint>
#include <map>

#include "synaptix/backend/cuda/cublaslt_fp8.h"
#include "synaptix/backend/cuda/device_buffer.h"

namespace synaptix::engine::cuda {

class W8A8Linear {
 public:
  struct Limits {
    int64_t max_rows = 0;          // rows of x a product may have (the step's tokens)
    int64_t max_k = 0;             // the widest x
    int64_t max_weight_elems = 0;  // the largest matrix's n * k (the per-product code scratch)
    int64_t max_acc_n = 0;         // the widest product that accumulates into y (the residual projections)
  };
  // Needs a current context; allocates every buffer a product will use (a product may run inside a graph capture).
  W8A8Linear(const Limits& limits, bool resident, bool fast_accumulation = false);

  // With `resident`: rewrites this matrix's codes (the tensor-core layout at wm, n x k) row-major once, for
  // every later product on wm. Synchronous.
  void make_resident(CUdeviceptr wm, int64_t n, int64_t k, CUstream stream);
  // y[m, n] (+ with acc)= the W8A8 product of x (f32, or bf16 with x_bf16) [m, k] and the matrix at wm.
  // Throws naming the shape when it exceeds the limits or the FP8 GEMM's alignment (n, k multiples of 16).
  void run(CUdeviceptr x, bool x_bf16, CUdeviceptr wm, CUdeviceptr y, int64_t m, int64_t n, int64_t k, bool acc,
           CUstream stream, int algorithm = 0);
  int64_t resident_bytes() const { return resident_bytes_; }
  bool resident() const { return resident_on_; }

 private:
  Limits limits_;
  bool resident_on_ = false;
  int64_t resident_bytes_ = 0;
  backend::cuda::BlasLtFp8Matmul mm_;
  backend::cuda::DeviceBuffer xq_, xs_, codes_;
  std::map<CUdeviceptr, backend::cuda::DeviceBuffer> resident_codes_;  // keyed by the layout's address
};

}  // namespace synaptix::engine::cuda
