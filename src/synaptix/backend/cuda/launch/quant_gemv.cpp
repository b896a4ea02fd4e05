#include "synaptix/backend/cuda/launch/quant_gemv.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "synaptix/backend/cuda/kernel_trace.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"
#include "synaptix/kernels/linear/quant_mma_layout.h"
#include "synaptix/quant/weight_format.h"

namespace synaptix::kernels::cuda {

namespace bc = backend::cuda;

namespace {

// The format of w, with k checked against its groups and the kernels' 4-element units.
const quant::WeightFormat& checked_format(DType w, int64_t n, int64_t k, const char* what) {
  const quant::WeightFormat* f = quant::weight_format(w);
  if (!f) fail(what, ": ", dtype_name(w), " is not a weight format with a CUDA kernel (expected one of ", quant_gemv_format_names(), ")");
  quant::weight_row_bytes(*f, k);  // throws naming the format when k is not whole groups
  if (k % 4 != 0) fail(what, ": ", f->name, " with k = ", k, " (the kernels need k % 4 == 0)");
  if (n <= 0 || n > (1ll << 31) - 1 || k > (1ll << 30)) fail(what, ": shape n=", n, " k=", k, " out of range");
  return *f;
}

// Opts `f` into `bytes` of dynamic shared memory (at least what was asked before).
void allow_shared_memory(CUfunction f, int64_t bytes) {
  static std::mutex mu;
  static std::map<CUfunction, int64_t> allowed;
  std::lock_guard<std::mutex> lock(mu);
  int64_t& have = allowed[f];
  if (have >= bytes) return;
  hw::cuda::check(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(bytes)),
                  "cuFuncSetAttribute(quant_mma_stream dynamic shared memory)");
  have = bytes;
}

// Blocks of `f` resident on one SM, and the device's SMs (cached per function: its name fixes its threads
// and shared memory).
std::pair<int, int> resident(CUfunction f, int threads, int64_t smem) {
  static std::mutex mu;
  static std::map<CUfunction, std::pair<int, int>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(f);
  if (it != cache.end()) return it->second;
  int per_sm = 0, sms = 0;
  CUdevice dev = 0;
  hw::cuda::check(cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, threads, static_cast<size_t>(smem)),
                  "cuOccupancyMaxActiveBlocksPerMultiprocessor");
  hw::cuda::check(cuCtxGetDevice(&dev), "cuCtxGetDevice");
  hw::cuda::check(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "cuDeviceGetAttribute");
  if (per_sm < 1) fail("quant_mma_stream: no block fits an SM (", threads, " threads, ", smem, " bytes of shared memory)");
  return cache[f] = {per_sm, sms};
}

}  // namespace

void quant_gemv(DType w, CUdeviceptr x, CUdeviceptr wt, CUdeviceptr y, int m, int64_t n, int64_t k, bool accumulate,
                CUstream stream, const QuantGemvParams& p) {
  const quant::WeightFormat& f = checked_format(w, n, k, "quant_gemv");
  if (m < 1 || m > 8) fail("quant_gemv: m=", m, " outside 1..8");
  if (x % 16 != 0 || y % 4 != 0 || wt % 4 != 0) fail("quant_gemv: x must be 16-byte aligned, y and W 4-byte aligned");
  CUfunction fn = bc::cached_kernel("quant_gemv_" + std::string(f.name) + "_m" + std::to_string(m) + "_" + p.str(),
                                    [&] { return quant_gemv_source(w, m, p); }, "quant_gemv");
  int ni = static_cast<int>(n), ki = static_cast<int>(k), acc = accumulate ? 1 : 0;
  void* args[] = {&x, &wt, &y, &ni, &ki, &acc};
  const int64_t rows_per_block = static_cast<int64_t>(p.warps) * p.rows_per_warp;
  const unsigned blocks = static_cast<unsigned>((n + rows_per_block - 1) / rows_per_block);
  // Under a kernel trace the launch is named with its format and shape.
  const std::string what = bc::active_trace()
                               ? "quant_gemv " + std::string(f.name) + " " + std::to_string(n) + "x" + std::to_string(k)
                               : "quant_gemv";
  bc::launch(fn, {blocks}, {static_cast<unsigned>(p.warps * 32)}, 0, stream, args, what.c_str());
}

void quant_gemv(DType w, CUdeviceptr x, CUdeviceptr wt, CUdeviceptr y, int m, int64_t n, int64_t k, bool accumulate,
                CUstream stream) {
  quant_gemv(w, x, wt, y, m, n, k, accumulate, stream, quant_gemv_default_params(w, m));
}

size_t quant_mma_scratch_bytes(DType w, int m, int64_t k) {
  const quant::WeightFormat& f = checked_format(w, 1, k, "quant_mma");
  const QuantMmaLayout l = quant_mma_layout(f, 1, k);
  const int64_t m_pad = (m + 7) / 8 * 8;
  return static_cast<size_t>((m_pad * l.k_pad * 2 + 255) / 256 * 256 + m_pad * 4);
}

namespace {

// The stream form (quant_mma_stream.cu): one launch, no scratch; y zeroed first only when k is cut into slices
// and y is not accumulated into.
void quant_mma_stream(const quant::WeightFormat& f, CUdeviceptr x, bool x_bf16, CUdeviceptr wmma, CUdeviceptr y, int m,
                      int64_t n, int64_t k, bool accumulate, CUdeviceptr scratch, size_t scratch_bytes, CUstream stream,
                      const QuantMmaParams& p, const QuantMmaFusedArgs& fa) {
  const QuantMmaFusion& fu = fa.fusion;
  const bool glu = fu.glu != QuantGlu::None;
  if (x % (x_bf16 ? 8 : 16) != 0 || y % 4 != 0 || wmma % 256 != 0)
    fail("quant_mma: x must be ", x_bf16 ? 8 : 16, "-byte aligned, y 4-byte, W 256-byte");
  if (fu.rms_norm && (!fa.gamma || fa.gamma % 16 != 0)) fail("quant_mma: the RMSNorm prologue needs gamma, 16-byte aligned");
  if (glu && (!fa.glu_out || fa.glu_out % 4 != 0 || accumulate || n % 2 != 0))
    fail("quant_mma: a gated activation needs its output, an even n (got ", n, ") and no accumulation");
  const QuantMmaStreamGeometry geo = quant_mma_stream_geometry(f.dtype, m, p);
  const QuantMmaLayout l = quant_mma_layout(f, n, k);
  CUfunction fn = bc::cached_kernel("quant_mma_stream_" + std::string(f.name) + "_m" + std::to_string(m) + "_" + p.str() +
                                        (x_bf16 ? "_xbf16" : "") + fu.str(),
                                    [&] { return quant_mma_stream_source(f.dtype, m, p, x_bf16, fu); }, "quant_mma_stream");
  const int threads = p.warps * 32;
  allow_shared_memory(fn, geo.smem_bytes);
  const auto [per_sm, sms] = resident(fn, threads, geo.smem_bytes);
  // The chooser walks every block of every candidate grid: remembered per shape (eager decode steps call it per
  // product).
  QuantMmaStreamGrid g;
  {
    using Key = std::tuple<int, int64_t, int64_t, int64_t, bool, int64_t, int64_t, int, int, int>;
    static std::mutex mu;
    static std::map<Key, QuantMmaStreamGrid> grids;
    const Key key{m, l.n_tiles, l.kw, l.word_k, accumulate, geo.x_cap, geo.max_tiles, glu ? 1 : p.k_slices, per_sm, sms};
    std::lock_guard<std::mutex> lock(mu);
    auto it = grids.find(key);
    if (it == grids.end())
      it = grids.emplace(key, quant_mma_stream_grid(m, l.n_tiles, l.kw, l.word_k, accumulate, geo.x_cap, geo.max_tiles,
                                                    glu ? 1 : p.k_slices, per_sm, sms)).first;
    g = it->second;
  }
  if (glu && g.splits != 1)
    fail("quant_mma: a gated activation needs one k slice; ", f.name, " at m = ", m, " k = ", k, " takes ", g.splits);
  const bool zero_y = g.splits > 1 && !accumulate;
  CUdeviceptr x_inv = 0;
  if (!p.fuse_x) {
    // The pre-pass: x to row-major f16 in scratch, its inverse scales after (and y zeroed when slices add into it).
    if (fu.rms_norm) fail("quant_mma: the RMSNorm prologue needs x converted in the product (schedule ", p.str(), ")");
    const size_t need = quant_mma_scratch_bytes(f.dtype, m, k);
    if (scratch % 256 != 0 || scratch_bytes < need)
      fail("quant_mma: scratch of ", scratch_bytes, " bytes for ", m, " x ", k, " (needs ", need, ", 256-byte aligned)");
    const int64_t m_pad = (m + 7) / 8 * 8;
    x_inv = scratch + static_cast<CUdeviceptr>((m_pad * l.k_pad * 2 + 255) / 256 * 256);
    CUfunction fx = bc::cached_kernel(std::string("quant_mma_x_rows_") + (x_bf16 ? "bf16" : "f32"),
                                      [&] { return quant_mma_x_source(x_bf16, true); }, "quant_mma_x");
    CUdeviceptr xh = scratch, y_zero = zero_y ? y : 0;
    int mi = m, ki = static_cast<int>(k), kp = static_cast<int>(l.k_pad), nn = static_cast<int>(n);
    void* xargs[] = {&x, &xh, &x_inv, &mi, &ki, &kp, &y_zero, &nn};
    bc::launch(fx, {static_cast<unsigned>(m)}, {1024}, 0, stream, xargs, "quant_mma_x");
    x = scratch;
  } else if (zero_y) {
    hw::cuda::check(cuMemsetD32Async(y, 0, static_cast<size_t>(m) * static_cast<size_t>(n), stream), "cuMemsetD32Async");
  }
  CUdeviceptr codes = wmma, scales = wmma + static_cast<CUdeviceptr>(l.scales_offset),
              zeros = wmma + static_cast<CUdeviceptr>(l.zeros_offset);
  int ni = static_cast<int>(n), ki = static_cast<int>(k), kwi = static_cast<int>(l.kw), acc = accumulate ? 1 : 0;
  CUdeviceptr gamma = fa.gamma, glu_out = fa.glu_out;
  float eps = fa.eps;
  void* args[] = {&x, &codes, &scales, &zeros, &y, &ni, &ki, &kwi, &acc, &gamma, &eps, &glu_out, &x_inv};
  const std::string what = bc::active_trace()
                               ? "quant_mma_stream " + std::string(f.name) + " " + std::to_string(n) + "x" + std::to_string(k)
                               : "quant_mma_stream";
  bc::launch(fn, {static_cast<unsigned>(g.gx), static_cast<unsigned>(g.splits)}, {static_cast<unsigned>(threads)},
             static_cast<unsigned>(geo.smem_bytes), stream, args, what.c_str());
}

}  // namespace

bool quant_mma_fusable(DType w, int m, int64_t n, int64_t k, const QuantMmaParams& p, const QuantMmaFusion& fu) {
  const quant::WeightFormat* f = quant::weight_format(w);
  if (!f || !p.stages || !p.fuse_x || m < 1 || m > 8) return false;
  if (fu.glu == QuantGlu::None) return true;
  try {
    const QuantMmaStreamGeometry geo = quant_mma_stream_geometry(w, m, p);
    return n % 2 == 0 && quant_mma_layout(*f, n, k).k_pad <= geo.x_cap;
  } catch (const Error&) {
    return false;
  }
}

void quant_mma(DType w, CUdeviceptr x, bool x_bf16, CUdeviceptr wmma, CUdeviceptr y, int m, int64_t n, int64_t k,
               bool accumulate, CUdeviceptr scratch, size_t scratch_bytes, CUstream stream, const QuantMmaParams& p,
               const QuantMmaFusedArgs& fusion) {
  const quant::WeightFormat& f = checked_format(w, n, k, "quant_mma");
  check_quant_mma_params(m, p);
  if (p.stages) {
    // A stream schedule chosen at one m (the executor keeps one per 8-row tile count) whose ring, x and
    // accumulator do not fit shared memory at this m runs this m's default instead.
    try {
      quant_mma_stream_geometry(w, m, p);
    } catch (const Error&) {
      const QuantMmaParams d = quant_mma_default_params(w, m);
      if (d.str() != p.str()) {
        quant_mma(w, x, x_bf16, wmma, y, m, n, k, accumulate, scratch, scratch_bytes, stream, d, fusion);
        return;
      }
      throw;
    }
    quant_mma_stream(f, x, x_bf16, wmma, y, m, n, k, accumulate, scratch, scratch_bytes, stream, p, fusion);
    return;
  }
  if (fusion.fusion.rms_norm || fusion.fusion.glu != QuantGlu::None)
    fail("quant_mma: fusions need the stream form (a schedule with stages; got ", p.str(), ")");
  if (x % (x_bf16 ? 8 : 16) != 0 || y % 4 != 0 || wmma % 256 != 0 || scratch % 256 != 0)
    fail("quant_mma: x must be ", x_bf16 ? 8 : 16, "-byte aligned, y 4-byte, W and the scratch 256-byte");
  const size_t need = quant_mma_scratch_bytes(w, m, k);
  if (scratch_bytes < need) fail("quant_mma: scratch of ", scratch_bytes, " bytes for ", m, " x ", k, " (needs ", need, ")");
  const QuantMmaLayout l = quant_mma_layout(f, n, k);
  const int64_t m_pad = (m + 7) / 8 * 8;
  CUdeviceptr xh = scratch, xs = scratch + static_cast<CUdeviceptr>((m_pad * l.k_pad * 2 + 255) / 256 * 256);
  int mi = m, ki = static_cast<int>(k), kp = static_cast<int>(l.k_pad);
  const bool rows_mode = p.k_slices > 0;
  const bool fused = !rows_mode && p.fuse_x && !x_bf16 && m <= 8 && static_cast<int64_t>(m) * k <= kQuantMmaFusedElems;
  const int ni = static_cast<int>(n);
  if (fused) {
    xh = x;  // the product reads x itself
  } else {
    CUfunction fx = bc::cached_kernel(std::string("quant_mma_x_") + (x_bf16 ? "bf16" : "f32"),
                                      [&] { return quant_mma_x_source(x_bf16); }, "quant_mma_x");
    CUdeviceptr y_zero = rows_mode && p.k_slices > 1 && !accumulate ? y : 0;
    int nn = ni;
    void* xargs[] = {&x, &xh, &xs, &mi, &ki, &kp, &y_zero, &nn};
    bc::launch(fx, {static_cast<unsigned>(m)}, {1024}, 0, stream, xargs, "quant_mma_x");
  }
  const int nt = (m + 7) / 8;
  CUfunction fn = bc::cached_kernel("quant_mma_" + std::string(f.name) + "_nt" + std::to_string(nt) + "_" + p.str() + (fused ? "_fx" : ""),
                                    [&] { return quant_mma_source(w, m, p, fused); }, rows_mode ? "quant_mma_rows" : "quant_mma");
  CUdeviceptr codes = wmma, scales = wmma + static_cast<CUdeviceptr>(l.scales_offset),
              zeros = wmma + static_cast<CUdeviceptr>(l.zeros_offset);
  int nv = ni, kwi = static_cast<int>(l.kw), acc = accumulate ? 1 : 0;
  void* args[] = {&xh, &xs, &codes, &scales, &zeros, &y, &mi, &nv, &ki, &kwi, &acc};
  const int64_t tiles_per_block = rows_mode ? static_cast<int64_t>(p.row_tiles) * p.warps : p.row_tiles;
  const unsigned blocks = static_cast<unsigned>((l.n_tiles + tiles_per_block - 1) / tiles_per_block);
  const unsigned slices = rows_mode ? static_cast<unsigned>(std::min<int64_t>(p.k_slices, l.kw)) : 1u;
  const std::string what = bc::active_trace()
                               ? "quant_mma " + std::string(f.name) + " " + std::to_string(n) + "x" + std::to_string(k)
                               : "quant_mma";
  bc::launch(fn, {blocks, slices}, {static_cast<unsigned>(p.warps * 32)}, 0, stream, args, what.c_str());
}

void quant_mma_dequantize_bf16(DType w, CUdeviceptr wmma, CUdeviceptr out, int64_t n, int64_t k, CUstream stream) {
  const quant::WeightFormat& f = checked_format(w, n, k, "quant_mma_dequantize_bf16");
  if (out % 8 != 0 || wmma % 256 != 0) fail("quant_mma_dequantize_bf16: the output must be 8-byte aligned, W 256-byte");
  const QuantMmaLayout l = quant_mma_layout(f, n, k);
  CUfunction fn = bc::cached_kernel("quant_mma_dequant_" + std::string(f.name), [&] { return quant_mma_dequant_source(w); },
                                    "quant_mma_dequant_bf16");
  CUdeviceptr codes = wmma, scales = wmma + static_cast<CUdeviceptr>(l.scales_offset),
              zeros = wmma + static_cast<CUdeviceptr>(l.zeros_offset);
  int ni = static_cast<int>(n), ki = static_cast<int>(k), kwi = static_cast<int>(l.kw);
  void* args[] = {&codes, &scales, &zeros, &out, &ni, &ki, &kwi};
  const int64_t warps = l.n_tiles * l.kw;
  const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>((warps + 7) / 8, 1, 65535));
  bc::launch(fn, {blocks}, {256}, 0, stream, args, "quant_mma_dequant_bf16");
}

void quant_dequantize_bf16(DType w, CUdeviceptr wt, CUdeviceptr out, int64_t n, int64_t k, CUstream stream) {
  const quant::WeightFormat& f = checked_format(w, n, k, "quant_dequantize_bf16");
  if (out % 4 != 0 || wt % 4 != 0) fail("quant_dequantize_bf16: W and the output must be 4-byte aligned");
  CUfunction fn = bc::cached_kernel("quant_dequant_" + std::string(f.name), [&] { return quant_dequant_source(w); },
                                    "quant_dequant_bf16");
  int ni = static_cast<int>(n), ki = static_cast<int>(k);
  void* args[] = {&wt, &out, &ni, &ki};
  const int64_t units = n * (f.code == quant::CodeType::E2M1 ? k / 2 : k / 4);
  const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>((units + 255) / 256, 1, 65535));
  bc::launch(fn, {blocks}, {256}, 0, stream, args, "quant_dequant_bf16");
}

}  // namespace synaptix::kernels::cuda
