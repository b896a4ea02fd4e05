#pragma once
// bf16 matrix products through cuBLASLt, the vendor tactic beside our generated kernels:
// y[m, n] = x[m, k] * w[n, k]^T (the nn.Linear layout), bf16 operands, f32 accumulation, f32 or bf16 output.
// In cuBLASLt's column-major terms that is the "TN" product D(n x m) = W^T(n x k) X(k x m). The library's
// heuristic proposes several algorithms per shape; index 0 is its own first choice (the untuned tactic) and
// the tuner may time the others.
#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "synaptix/backend/cuda/device_buffer.h"
#include "synaptix/core/dtype.h"

namespace synaptix::backend::cuda {

class BlasLtMatmul {
 public:
  BlasLtMatmul();  // needs a current context
  ~BlasLtMatmul();
  BlasLtMatmul(const BlasLtMatmul&) = delete;
  BlasLtMatmul& operator=(const BlasLtMatmul&) = delete;

  // How many algorithms the heuristic offers for this shape (at most 8).
  int algorithm_count(int64_t m, int64_t n, int64_t k, DType y_dtype);
  // Enqueues the product on `stream`; y_dtype is F32 or BF16; with `accumulate` y += x w^T (beta = 1). Throws naming the shape when cuBLASLt fails.
  void run(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, DType y_dtype, int64_t m, int64_t n, int64_t k,
           CUstream stream, int algorithm = 0, bool accumulate = false);

 private:
  struct Plan;
  Plan& plan(int64_t m, int64_t n, int64_t k, DType y_dtype);
  void* handle_ = nullptr;
  DeviceBuffer workspace_;
  std::map<std::tuple<int64_t, int64_t, int64_t, int>, std::unique_ptr<Plan>> plans_;
};

}  // namespace synaptix::backend::cuda
