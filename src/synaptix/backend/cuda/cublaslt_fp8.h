#pragma once
// W8A8 FP8 products through cuBLASLt on tensor cores (Hopper and later): y[m, n] f32 = (xs[i] * ws[j]) *
// sum_k xq[i, k] wq[j, k], with xq (activations, one scale per row: per token) and wq (weights, one scale
// per output channel) OFP8 E4M3 codes, row-major [rows, k], f32 accumulation. In cuBLASLt's column-major
// terms: the "TN" product D(n x m) = A^T B with A = wq (k x n, ld k) and B = xq (k x m, ld k), the only
// layout FP8 takes on Hopper. The scales go in as cuBLASLt's outer-vector scale modes (A: n, B: m) where the
// library offers them for the shape; else the product is computed unscaled and a kernel of ours applies
// them (kernels/linear/cuda/fp8_w8a8.cu). The x quantization is fp8_quantize_rows (launch/fp8_w8a8.h).
#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "synaptix/backend/cuda/ceilings.h"
#include "synaptix/backend/cuda/device_buffer.h"

namespace synaptix::backend::cuda {

class BlasLtFp8Matmul {
 public:
  // Needs a current context. `fast_accumulation`: cuBLASLt's FAST_ACCUM (Hopper's FP8 tensor cores keep
  // their partial sums without periodic promotion to f32: faster, less accurate).
  explicit BlasLtFp8Matmul(bool fast_accumulation = false);
  ~BlasLtFp8Matmul();
  BlasLtFp8Matmul(const BlasLtFp8Matmul&) = delete;
  BlasLtFp8Matmul& operator=(const BlasLtFp8Matmul&) = delete;

  // With `accumulate` y += the product (the residual projections). Requires k % 16 == 0 and n % 16 == 0
  // (FP8's alignment), 16-byte aligned xq, wq and y; throws naming the shape otherwise, and when cuBLASLt has
  // no algorithm or fails.
  void run(CUdeviceptr xq, CUdeviceptr xs, CUdeviceptr wq, CUdeviceptr ws, CUdeviceptr y, int64_t m, int64_t n, int64_t k,
           CUstream stream, int algorithm = 0, bool accumulate = false);
  int algorithm_count(int64_t m, int64_t n, int64_t k);
  // Whether cuBLASLt applies the scales itself for this shape (its outer-vector mode), else a kernel does.
  bool library_scales(int64_t m, int64_t n, int64_t k);
  // Allocates now the buffer an accumulating product of up to `bytes` (m * n * 4) needs when our kernel applies
  // the scales, instead of at its first run: that run may be inside a CUDA graph capture.
  void reserve_product(size_t bytes) {
    if (product_.bytes() < bytes) product_ = DeviceBuffer(bytes);
  }
  // Tests: never ask for the outer-vector mode (the separate scale kernel runs).
  void force_separate_scales(bool on) { force_separate_ = on; }
  // Ceiling probes: the E4M3 GEMM alone, its f32 output left unscaled (no scale mode, no scale kernel), so that
  // a peak is the tensor cores' and not the scale pass's.
  void gemm_only(bool on) {
    gemm_only_ = on;
    force_separate_ = on;
  }

 private:
  struct Plan;
  Plan& plan(int64_t m, int64_t n, int64_t k);
  std::unique_ptr<Plan> make_plan(int64_t m, int64_t n, int64_t k, bool outer);
  void* handle_ = nullptr;
  bool fast_ = false;
  bool force_separate_ = false;
  bool gemm_only_ = false;
  DeviceBuffer workspace_;
  DeviceBuffer product_;  // the unscaled product when our kernel applies the scales and y accumulates
  std::map<std::tuple<int64_t, int64_t, int64_t, bool>, std::unique_ptr<Plan>> plans_;
};

// y f32 [m, n] = W8A8 product of x f32 [m, k] and fp8 weights (codes wq [n, k], scales ws [n]): quantizes x
// per row into xq (m * k bytes) and xs (m floats), then the GEMM.
void fp8_w8a8_linear(BlasLtFp8Matmul& mm, CUdeviceptr x, CUdeviceptr xq, CUdeviceptr xs, CUdeviceptr wq, CUdeviceptr ws,
                     CUdeviceptr y, int64_t m, int64_t n, int64_t k, CUstream stream, int algorithm = 0,
                     bool accumulate = false);

// The FP8 tensor-core ceiling: an n^3 E4M3 GEMM alone (f32 output, no scales applied) on random codes, like
// measure_bf16_gemm_peak; tflops = 2 n^3 / time.
GemmPeakMeasurement measure_fp8_gemm_peak(int64_t n = 8192, int repeats = 10, bool fast_accumulation = false);

}  // namespace synaptix::backend::cuda
