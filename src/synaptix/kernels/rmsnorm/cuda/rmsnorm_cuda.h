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

}  // namespace synaptix::kernels::cuda
