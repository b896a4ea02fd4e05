// The source of the weight-format decode GEMV for one (format, m, warps): the file's text after #defines.
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/cuda_sources.h"
#include "synaptix/kernels/linear/cuda/quant_gemv_cuda.h"

namespace synaptix::kernels::cuda {

bool quant_gemv_supports(DType w) { return w == DType::W4_G128 || w == DType::FP8_PC; }

std::string quant_gemv_source(DType w, int m, int warps) {
  if (!quant_gemv_supports(w))
    fail("quant_gemv: no CUDA kernel for weight dtype ", dtype_name(w), " (expected int4-g128 or fp8-e4m3-pc)");
  if (m < 1 || m > 8) fail("quant_gemv: m = ", m, " (expected 1..8 rows of x)");
  if (warps < 1 || warps > 16) fail("quant_gemv: warps = ", warps, " (expected 1..16)");
  std::ostringstream os;
  os << "#define FORMAT " << (w == DType::W4_G128 ? 1 : 2) << "\n#define M " << m << "\n#define WARPS " << warps << "\n";
  os << kernels::cuda_source("kernels/linear/cuda/quant_gemv.cu");
  return os.str();
}

}  // namespace synaptix::kernels::cuda
