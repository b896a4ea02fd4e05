// The decode GEMV's schedule space and its CUDA C++ source for one point (no driver calls: NVRTC compiles
// it at run time; the launcher is in backend/cuda/launch/gemv_bf16.cpp).
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {

std::string GemvParams::str() const {
  std::ostringstream os;
  os << "w" << warps << "_ks" << kslices << "_r" << rows_per_warp << "_u" << unroll;
  if (full_occupancy) os << "_occ";
  if (persistent) os << "_pers";
  if (prefetch_kb) os << "_pf" << prefetch_kb;
  if (stages) os << "_b" << stages << "x" << chunk_bytes / 1024 << "k";
  return os.str();
}

namespace {
// The bulk-copy fields: none on the register path; else a ring of whole 16-byte vectors per row and stage,
// within the shared memory a block may opt into (227 KB on Hopper, less the static arrays).
bool gemv_ring_valid(const GemvParams& p) {
  auto in = [](int v, std::initializer_list<int> set) { return std::find(set.begin(), set.end(), v) != set.end(); };
  if (p.stages == 0) return p.chunk_bytes == 0;
  if (p.warps % p.kslices != 0 || p.rows_per_warp < 1) return false;
  return in(p.stages, {2, 3, 4, 6, 8}) && in(p.chunk_bytes, {4096, 8192, 16384, 32768}) &&
         p.chunk_bytes % (16 * p.rows_per_block()) == 0 && gemv_ring_bytes(p) <= 192 * 1024 && p.full_occupancy == 0;
}
}  // namespace

bool gemv_params_valid(const GemvParams& p, int m) {
  auto in = [](int v, std::initializer_list<int> set) { return std::find(set.begin(), set.end(), v) != set.end(); };
  return m >= 1 && m <= 8 && in(p.warps, {2, 4, 8, 16}) && in(p.kslices, {1, 2, 4, 8, 16}) &&
         p.warps % p.kslices == 0 && in(p.rows_per_warp, {1, 2, 4}) && in(p.unroll, {1, 2, 4, 8}) &&
         in(p.full_occupancy, {0, 1}) && in(p.persistent, {0, 1}) && in(p.prefetch_kb, {0, 8, 16, 32, 64}) &&
         p.rows_per_warp * p.unroll * m <= 32 && gemv_ring_valid(p);
}

GemvParams gemv_default_params(int m, int64_t n, int64_t k) {
  GemvParams p;
  if (m >= 2) {
    // Several rows of x: four weight rows per warp reuse each x load four times; one load in flight per
    // row is enough with four rows.
    p.warps = 4;
    p.rows_per_warp = 4;
    p.unroll = 1;
    p.kslices = 1;
    const int64_t want = n < 8192 ? 4 : 2;
    while (p.kslices < want && k / 8 >= 32 * 2 * p.kslices) p.kslices *= 2;
    return p;
  }
  if (k / 8 >= 32 * 2 * 8) {
    // One row: eight warps per block split two weight rows' k eight ways: more independent 16-byte loads in
    // flight per SM than one warp per row. The H100 tuner chose this point for every Llama-3.1-8B shape.
    p.warps = 8;
    p.kslices = 8;
    p.rows_per_warp = 2;
    p.unroll = 2;
    return p;
  }
  p.warps = 4;
  p.rows_per_warp = 1;
  p.unroll = 2;
  // Too few rows to give every SM several blocks: split each row's k among the block's warps, as long as
  // each warp still gets at least one warp-wide pass of 16-byte loads.
  p.kslices = 1;
  if (n < 2048)
    while (p.kslices < 4 && k / 8 >= 32 * 2 * p.kslices) p.kslices *= 2;
  return p;
}

std::vector<GemvParams> gemv_register_search_space(int m, int64_t n, int64_t k) {
  std::vector<GemvParams> out;
  for (int warps : {4, 8, 16})
    for (int ks : {1, 2, 4, 8})
      for (int r : {1, 2, 4})
        for (int u : {1, 2, 4, 8}) {
          GemvParams p{warps, ks, r, u, 0, 0};
          if (!gemv_params_valid(p, m)) continue;
          if (ks > 1 && k / 8 < static_cast<int64_t>(32) * ks) continue;  // a k-slice shorter than one warp-wide load
          out.push_back(p);
          p.persistent = 1;
          out.push_back(p);
          p.persistent = 0;
          p.full_occupancy = 1;
          out.push_back(p);
        }
  (void)n;
  return out;
}

std::vector<GemvParams> gemv_bulk_search_space(int m, int64_t n, int64_t k) {
  // Block shapes (warps, kslices, rows_per_warp: 1 to 8 rows per block, k whole or split 4 or 8 ways; the H100's
  // best register points split one row 4 ways, and rows_per_warp 2-4 reuse each x load over more rows) x
  // rings of 8 to 64 KB (small rings: more blocks per SM, each pulling its rows whole) x persistent or not.
  struct Shape {
    int warps, kslices, rows_per_warp;
  };
  std::vector<GemvParams> out;
  for (Shape s : {Shape{8, 1, 1}, {4, 4, 1}, {4, 4, 2}, {8, 8, 1}, {8, 4, 2}, {8, 8, 2}, {8, 8, 4}})
    for (auto [stages, chunk] : {std::pair{2, 4096}, {4, 4096}, {4, 8192}, {4, 16384}})
      for (int pers : {0, 1}) {
        GemvParams p{s.warps, s.kslices, s.rows_per_warp, 2, 0, pers, 0, stages, chunk};
        while (p.unroll > 1 && p.rows_per_warp * p.unroll * m > 32) p.unroll /= 2;
        if (!gemv_params_valid(p, m)) continue;
        // Every k-slice gets at least one warp-wide run of vectors per stage, and per row.
        if (chunk / (2 * p.rows_per_block()) / 8 < 32 * s.kslices) continue;
        if (s.kslices > 1 && k / 8 < static_cast<int64_t>(32) * s.kslices) continue;
        out.push_back(p);
      }
  (void)n;
  return out;
}

std::vector<GemvParams> gemv_search_space(int m, int64_t n, int64_t k) {
  std::vector<GemvParams> out = gemv_register_search_space(m, n, k);
  for (const GemvParams& p : gemv_bulk_search_space(m, n, k)) out.push_back(p);
  return out;
}

std::string GemvFusion::str() const {
  std::string s = input == GemvInput::RmsNorm ? "norm" : "plain";
  s += output == GemvOutput::AccumulateSumSq ? "_accss"
       : output == GemvOutput::SwiGlu        ? "_swiglu"
       : output == GemvOutput::ArgMax        ? "_argmax"
       : output == GemvOutput::GeGlu         ? "_geglu"
                                             : "";
  if (xn_out) s += "_xn";
  return s;
}

GemvParams gemv_fit_params(GemvParams p, int m, const GemvFusion& f) {
  if (gemv_gated(f.output) && p.rows_per_warp % 2) {
    p.rows_per_warp = 2;
    while (p.unroll > 1 && p.rows_per_warp * p.unroll * m > 32) p.unroll /= 2;
  }
  return p;
}

std::string gemv_bf16_source(int m, const GemvParams& p, const GemvFusion& f) {
  if (!gemv_params_valid(p, m)) fail("invalid GEMV parameters ", p.str(), " for m=", m);
  if (gemv_gated(f.output) && p.rows_per_warp % 2)
    fail("GEMV with a gated (SwiGLU/GeGLU) epilogue needs an even rows_per_warp, got ", p.str());
  std::ostringstream os;
  os << kDevicePrelude;
  os << "#define M " << m << "\n#define WARPS " << p.warps << "\n#define KS " << p.kslices << "\n#define RPW "
     << p.rows_per_warp << "\n#define UNROLL " << p.unroll << "\n#define MIN_BLOCKS "
     << (p.full_occupancy ? 2048 / (p.warps * 32) : 1) << "\n#define PREFETCH_BYTES " << p.prefetch_kb * 1024
     << "ll\n#define STAGES " << p.stages << "\n#define CHUNK_BYTES " << p.chunk_bytes << "\n#define IN_NORM "
     << (f.input == GemvInput::RmsNorm ? 1 : 0) << "\n#define OUT_MODE " << static_cast<int>(f.output)
     << "\n#define WRITE_XN " << (f.xn_out ? 1 : 0) << "\n#define ARGMAX_WORDS " << kGemvArgmaxWords << "\n#define ARGMAX_STRIDE " << kGemvArgmaxWordStride << "\n";
  os << kernels::cuda_source("kernels/linear/cuda/gemv_bf16.cu");
  return os.str();
}

}  // namespace synaptix::kernels::cuda
