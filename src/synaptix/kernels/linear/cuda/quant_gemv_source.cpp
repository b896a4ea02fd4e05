// The sources of the weight-format kernels for one (format, m, schedule): the device prelude, the format's
// #defines and decoder (quant_decode.cuh), then the kernel's file.
#include <algorithm>
#include <sstream>
#include <vector>

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
  if (p.stages != 0 && (p.stages < 2 || p.stages > 8)) fail("quant_mma: stages = ", p.stages, " (expected 0, or 2..8)");
  if (p.row_tiles * p.unroll > 8)
    fail("quant_mma: row_tiles * unroll = ", p.row_tiles * p.unroll, " (expected at most 8 words in flight per round)");
}

QuantMmaParams quant_mma_default_params(DType w, int m) {
  QuantMmaParams p;
  if (m <= 8) {
    // The stream form: 16 warps of 2 stages of one word. On an H100 (2026-12-05, Llama-3.1-8B's shapes at m = 1)
    // it beat 4 stages of 2 words (16 warps: 1568 vs 1266 GB/s over a layer's products alone for int4-g128, a
    // layer's fused sequence 62 vs 69 us): smaller blocks put more warps on an SM, and the decode's mma chains,
    // not the bytes in flight, bound it. Else 8 warps where 16 do not fit shared memory.
    p.stages = 2;
    p.unroll = 1;
    p.warps = 16;
    try {
      quant_mma_stream_geometry(w, m, p);
    } catch (const Error&) {
      p.warps = 8;
    }
    return p;
  }
  if (m > 8) {
    // Row mode: 4 warps of 2 row tiles share each x load, k in 8 slices: the best over a layer's products at 32
    // rows for every format in two H100 runs (2026-12-05; int4-g128 686 vs 574 GB/s for 1 tile and 4 slices).
    p.warps = 4;
    p.row_tiles = 2;
    p.k_slices = 8;
  }
  if (m > 32) p.unroll = 1;
  return p;
}

std::string quant_mma_source(DType w, int m, const QuantMmaParams& p, bool fused) {
  check_quant_mma_params(m, p);
  if (p.stages) fail("quant_mma: schedule ", p.str(), " is the stream form (quant_mma_stream_source)");
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

QuantMmaStreamGeometry quant_mma_stream_geometry(DType w, int m, const QuantMmaParams& p) {
  check_quant_mma_params(m, p);
  if (!p.stages) fail("quant_mma: the stream form needs a schedule with stages (got ", p.str(), ")");
  const quant::WeightFormat* f = quant::weight_format(w);
  if (!f) fail("quant_mma: no CUDA kernel for weight dtype ", dtype_name(w), " (expected one of ", quant_gemv_format_names(), ")");
  // The group scales (and int4's zero points) of one 16-byte word of each of a tile's rows, as the layout holds them.
  const bool four_bit = f->code == quant::CodeType::Int4 || f->code == quant::CodeType::Int4Asym || f->code == quant::CodeType::E2M1;
  const int64_t word_k = four_bit ? 128 : 64, groups = f->group ? word_k / f->group : 0;
  int64_t scale_bytes = 0, zero_bytes = 0;
  if (f->code == quant::CodeType::E2M1) scale_bytes = groups * 16;
  else if (four_bit) scale_bytes = groups * 32;
  if (f->code == quant::CodeType::Int4Asym) zero_bytes = groups * 16;
  QuantMmaStreamGeometry g;
  // x of the k slice in f16: every k of Llama-3.1-8B's shapes in one slice at m = 1, 4096 from m = 3 on (64 KB),
  // then halving with each doubling of m; the block's accumulator likewise (16 KB from m = 8 on).
  g.x_cap = m == 1 ? 16384 : m == 2 ? 8192 : m <= 8 ? 4096 : m <= 16 ? 2048 : m <= 32 ? 1024 : 512;
  g.max_tiles = m <= 8 ? 32 : m <= 16 ? 16 : m <= 32 ? 8 : 4;
  g.smem_bytes = int64_t{p.warps} * p.stages * p.unroll * (1024 + scale_bytes + zero_bytes) + m * (g.x_cap + 16) * 2 +
                 g.max_tiles * 16 * m * 4;
  // Its static arrays (per-warp maxima, per-token scales) share the block's shared memory.
  const int64_t static_bytes = (int64_t{p.warps} + 3) * m * 4;
  if (g.smem_bytes + static_bytes > kQuantMmaStreamMaxSmem)
    fail("quant_mma: the stream form's schedule ", p.str(), " needs ", g.smem_bytes, " bytes of shared memory for ", f->name,
         " at m = ", m, " (at most ", kQuantMmaStreamMaxSmem, ")");
  return g;
}

QuantMmaStreamGrid quant_mma_stream_grid(int m, int64_t n_tiles, int64_t kw, int64_t word_k, bool accumulate, int64_t x_cap,
                                         int64_t max_tiles, int k_slices, int per_sm, int sms) {
  // Splits of k: at least so that a block's k slice of x fits its shared memory, at most one word a slice.
  const int64_t cap_words = std::max<int64_t>(1, x_cap / word_k);
  const int64_t s_min = (kw + cap_words - 1) / cap_words, s_max = std::max(s_min, std::min<int64_t>(kw, 16));
  const int64_t min_gx = (n_tiles + max_tiles - 1) / max_tiles;
  auto grid_for = [&](int64_t s, int64_t blocks) {
    QuantMmaStreamGrid g;
    g.splits = s;
    g.gx = std::clamp<int64_t>(blocks / s, min_gx, n_tiles);
    return g;
  };
  if (k_slices > 0) return grid_for(std::clamp<int64_t>(k_slices, s_min, std::max<int64_t>(s_min, kw)), int64_t{per_sm} * sms);
  // The words of the busiest SM (blocks land on SMs round-robin in launch order) plus each block's x slice
  // (read from L2, counted at a quarter of its bytes), for each number of slices and of blocks an SM (tiles
  // are whole: 384 tiles on 264 blocks leave some SMs 4 and the mean 2.9, on 132 blocks at most 3). Fewer
  // blocks than fit an SM keep fewer bytes in flight: such a grid must beat the best full one by a tenth. More
  // slices than the x needs without accumulating would need y zeroed first (an extra graph node): only when no
  // other fits.
  QuantMmaStreamGrid best_full, best_part;
  double cost_full = 0, cost_part = 0;
  for (int64_t s = s_min; s <= s_max; ++s) {
    if (s > s_min && !accumulate) break;
    for (int b_sm = 1; b_sm <= per_sm; ++b_sm) {
      const QuantMmaStreamGrid g = grid_for(s, int64_t{b_sm} * sms);
      const int64_t per = (kw + s - 1) / s;
      std::vector<double> load(static_cast<size_t>(sms), 0.0);
      for (int64_t b = 0; b < g.gx * s; ++b) {
        const int64_t bx = b % g.gx, by = b / g.gx;
        const int64_t tiles = (bx + 1) * n_tiles / g.gx - bx * n_tiles / g.gx;
        const int64_t words = std::max<int64_t>(0, std::min(kw, (by + 1) * per) - by * per);
        load[static_cast<size_t>(b % sms)] += static_cast<double>(tiles * words) * 1024.0 + m * words * word_k * 4 / 4.0;
      }
      const double cost = *std::max_element(load.begin(), load.end());
      QuantMmaStreamGrid& best = b_sm == per_sm ? best_full : best_part;
      double& best_cost = b_sm == per_sm ? cost_full : cost_part;
      if (best.splits == 0 || cost < best_cost) {
        best = g;
        best_cost = cost;
      }
    }
  }
  return best_part.splits != 0 && cost_part < 0.9 * cost_full ? best_part : best_full;
}

std::string quant_mma_stream_source(DType w, int m, const QuantMmaParams& p, bool x_bf16, const QuantMmaFusion& fu) {
  const QuantMmaStreamGeometry g = quant_mma_stream_geometry(w, m, p);
  if (!p.fuse_x && fu.rms_norm) fail("quant_mma: the RMSNorm prologue needs x converted in the product (schedule ", p.str(), ")");
  std::ostringstream os;
  os << format_head(w, "quant_mma");
  os << kernels::cuda_source("kernels/linear/cuda/quant_mma_decode.cuh");
  os << "#define M " << m << "\n#define WARPS " << p.warps << "\n#define STAGES " << p.stages << "\n#define QU " << p.unroll
     << "\n#define XCAP " << g.x_cap << "\n#define YT " << g.max_tiles << "\n" << (x_bf16 ? "#define XBF16 1\n" : "")
     << "#define QS_NORM " << (fu.rms_norm ? 1 : 0) << "\n#define QS_GLU " << static_cast<int>(fu.glu) << "\n"
     << (p.fuse_x ? "" : "#define XPRE 1\n");
  os << kernels::cuda_source("kernels/linear/cuda/quant_mma_stream.cu");
  return os.str();
}

std::string quant_mma_x_source(bool bf16_input, bool rows) {
  std::ostringstream os;
  os << kDevicePrelude << "#define QFMT 0\n" << (bf16_input ? "#define XBF16 1\n" : "") << (rows ? "#define QX_ROWS 1\n" : "")
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
