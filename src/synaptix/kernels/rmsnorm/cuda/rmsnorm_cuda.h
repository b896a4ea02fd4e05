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
// rmsnorm_add: residual[r] += rmsnorm(t[r]) * w, a sublayer's output normed before its residual add (gemma3's
// post-norms). Its own source, so that rmsnorm's text stays as it was.
std::string rmsnorm_add_source();

}  // namespace synaptix::kernels::cuda
