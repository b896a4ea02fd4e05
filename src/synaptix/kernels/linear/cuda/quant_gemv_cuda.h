#pragma once
// The decode GEMV for weight formats on CUDA (quant_gemv.cu): W in int4-g128 or fp8-e4m3-pc, dequantized in
// registers; x and y f32, m <= 8 rows of x. Source only so far: no launcher, executor or tuner uses it yet.
// Requirements the launcher must check: int4-g128: k % 128 == 0; fp8-e4m3-pc: k % 4 == 0 and x 16-byte
// aligned rows (k % 4 == 0 with an aligned base). Grid: ceil(n / warps) blocks of warps * 32 threads.
#include <string>

#include "synaptix/core/dtype.h"

namespace synaptix::kernels::cuda {

// Whether quant_gemv has a form for weight dtype w.
bool quant_gemv_supports(DType w);
// The source for w (W4_G128 or FP8_PC), m rows of x (1..8) and `warps` weight rows per block (1..16).
// Throws synaptix::Error naming what is out of range.
std::string quant_gemv_source(DType w, int m, int warps);

}  // namespace synaptix::kernels::cuda
