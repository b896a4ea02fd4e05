// The sources of the weight-format kernels for one (format, m, schedule): the device prelude, the format's
// #defines and decoder (quant_decode.cuh), then the kernel's file.
#include <sstream>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"
#include "synaptix/kernels/linear/cuda/quant_gemv_cuda.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::kernels::cuda {

namespace {

// The prelude, the format's #defines and its decoder.
std::string format_head(DType w, const char* what) {
  const quant::WeightFormat* f = quant::weight_format(w);
  if (!f)
    fail(what, ": no CUDA kernel for weight dtype ", dtype_name(w), " (expected one of ", quant_gemv_format_names(), ")");
  std::ostringstream os;
  os << kDevicePrelude;
  switch (f->code) {
    case quant::CodeType::Int4:
    case quant::CodeType::Int4Asym:
      os << "#define QFMT 1\n#define GROUP " << f->group << "\n#define ASYM " << (f->code == quant::CodeType::Int4Asym ? 1 : 0)
         << "\n";
      break;
    case quant::CodeType::Fp8E4M3: os << "#define QFMT 2\n"; break;
    case quant::CodeType::Int8: os << "#define QFMT 3\n"; break;
    case quant::CodeType::E2M1: os << "#define QFMT 4\n"; break;
  }
  os << kernels::cuda_source("kernels/linear/cuda/quant_decode.cuh");
  return os.str();
}

}  // namespace

bool quant_gemv_supports(DType w) { return quant::weight_format(w) != nullptr; }

std::string quant_gemv_format_names() { return quant::weight_format_names(); }

QuantGemvParams quant_gemv_default_params(DType w, int m) {
  (void)w;
  QuantGemvParams p;
  if (m > 4) p.unroll = 2;  // more x rows: registers go to accumulators rather than loads in flight
  return p;
}

void check_quant_gemv_params(int m, const QuantGemvParams& p) {
  if (m < 1 || m > 8) fail("quant_gemv: m = ", m, " (expected 1..8 rows of x)");
  if (p.warps < 1 || p.warps > 16) fail("quant_gemv: warps = ", p.warps, " (expected 1..16)");
  if (p.unroll < 1 || p.unroll > 16) fail("quant_gemv: unroll = ", p.unroll, " (expected 1..16)");
  if (p.rows_per_warp < 1 || p.rows_per_warp > 8)
    fail("quant_gemv: rows_per_warp = ", p.rows_per_warp, " (expected 1..8)");
}

std::string quant_gemv_source(DType w, int m, const QuantGemvParams& p) {
  check_quant_gemv_params(m, p);
  std::ostringstream os;
  os << format_head(w, "quant_gemv");
  os << "#define M " << m << "\n#define WARPS " << p.warps << "\n#define RPW " << p.rows_per_warp << "\n#define UNROLL "
     << p.unroll << "\n";
  os << kernels::cuda_source("kernels/linear/cuda/quant_gemv.cu");
  return os.str();
}

void check_quant_mma_params(int m, const QuantMmaParams& p) {
  if (m < 1 || m > kQuantMmaMaxRows) fail("quant_mma: m = ", m, " (expected 1..", kQuantMmaMaxRows, " rows of x)");
  if (p.warps < 1 || p.warps > 16) fail("quant_mma: warps = ", p.warps, " (expected 1..16)");
  if (p.row_tiles < 1 || p.row_tiles > 4) fail("quant_mma: row_tiles = ", p.row_tiles, " (expected 1..4)");
  if (p.unroll < 1 || p.unroll > 8) fail("quant_mma: unroll = ", p.unroll, " (expected 1..8)");
  // Two rounds of row_tiles * unroll 16-byte words live in registers.
  if (p.k_slices < 0 || p.k_slices > 16) fail("quant_mma: k_slices = ", p.k_slices, " (expected 0..16)");
  if (p.row_tiles * p.unroll > 8)
    fail("quant_mma: row_tiles * unroll = ", p.row_tiles * p.unroll, " (expected at most 8 words in flight per round)");
}

QuantMmaParams quant_mma_default_params(DType w, int m) {
  (void)w;
  QuantMmaParams p;
  if (m > 8) {  // row mode: 4 warps of 16 rows share each x load, k in 4 slices
    p.warps = 4;
    p.k_slices = 4;
  }
  if (m > 32) p.unroll = 1;
  return p;
}

std::string quant_mma_source(DType w, int m, const QuantMmaParams& p, bool fused) {
  check_quant_mma_params(m, p);
  if (fused && m > 8) fail("quant_mma: the fused x conversion takes at most 8 rows (got ", m, ")");
  if (fused && p.k_slices) fail("quant_mma: the fused x conversion has no row mode (k_slices ", p.k_slices, ")");
  std::ostringstream os;
  os << format_head(w, "quant_mma");
  os << kernels::cuda_source("kernels/linear/cuda/quant_mma_decode.cuh");
  os << "#define NT " << (m + 7) / 8 << "\n#define WARPS " << p.warps << "\n#define RT " << p.row_tiles << "\n#define KU "
     << p.unroll << "\n" << (fused ? "#define FUSEX 1\n" : "") << (p.k_slices ? "#define QM_ROWS 1\n" : "");
  os << kernels::cuda_source("kernels/linear/cuda/quant_mma.cu");
  return os.str();
}

std::string quant_mma_x_source(bool bf16_input) {
  std::ostringstream os;
  os << kDevicePrelude << "#define QFMT 0\n" << (bf16_input ? "#define XBF16 1\n" : "")
     << kernels::cuda_source("kernels/linear/cuda/quant_mma_decode.cuh")
     << kernels::cuda_source("kernels/linear/cuda/quant_mma_x.cu");
  return os.str();
}

std::string quant_mma_dequant_source(DType w) {
  return format_head(w, "quant_mma_dequant") + std::string(kernels::cuda_source("kernels/linear/cuda/quant_mma_decode.cuh")) +
         std::string(kernels::cuda_source("kernels/linear/cuda/quant_mma_dequant.cu"));
}

std::string quant_dequant_source(DType w) {
  return format_head(w, "quant_dequant") + std::string(kernels::cuda_source("kernels/linear/cuda/quant_dequant.cu"));
}

}  // namespace synaptix::kernels::cuda
