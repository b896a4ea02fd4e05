#pragma once
// RMSNorm on the device: y[i] = x[row(i)] / sqrt(mean(x^2) + eps) * w, f32 math. One block per output row.
// `rows` (optional) gathers input rows, so the final norm runs only on the rows that need logits; the output
// is f32, or bf16 when it feeds a tensor-core GEMM.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

// The kernel source (for compile checks and the cubin cache).
std::string rmsnorm_source();

void rmsnorm(CUdeviceptr x, CUdeviceptr rows, CUdeviceptr w, CUdeviceptr y, int64_t out_rows, int64_t dim,
             float eps, bool out_bf16, CUstream stream);

}  // namespace synaptix::kernels::cuda
