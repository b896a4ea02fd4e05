#include "synaptix/backend/cuda/launch/gemv_bf16.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>

#include "synaptix/backend/cuda/kernel_trace.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/hw/cuda/driver.h"

namespace synaptix::kernels::cuda {

namespace bc = backend::cuda;

namespace {
// Blocks of `f` that fit on the whole device at once (one full wave), cached per function (its name fixes
// its threads and shared memory).
unsigned resident_blocks(CUfunction f, int threads, int smem_bytes) {
  static std::mutex mu;
  static std::map<CUfunction, unsigned> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(f);
  if (it != cache.end()) return it->second;
  int per_sm = 0, sms = 0;
  CUdevice dev = 0;
  hw::cuda::check(cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, threads, static_cast<size_t>(smem_bytes)), "cuOccupancyMaxActiveBlocksPerMultiprocessor");
  hw::cuda::check(cuCtxGetDevice(&dev), "cuCtxGetDevice");
  hw::cuda::check(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "cuDeviceGetAttribute");
  const unsigned n = static_cast<unsigned>(std::max(1, per_sm * sms));
  cache[f] = n;
  return n;
}
// Opts `f` into `bytes` of dynamic shared memory (at least what was asked before). Asked for any size: the
// 48 KB default counts the static arrays too, so 48 KB of ring alone already needs it.
void allow_shared_memory(CUfunction f, int bytes) {
  if (bytes <= 0) return;
  static std::mutex mu;
  static std::map<CUfunction, int> allowed;
  std::lock_guard<std::mutex> lock(mu);
  int& have = allowed[f];
  if (have >= bytes) return;
  hw::cuda::check(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                  "cuFuncSetAttribute(gemv_bf16 dynamic shared memory)");
  have = bytes;
}
}  // namespace

void gemv_bf16(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y, int m, int64_t n, int64_t k, bool accumulate,
               const GemvParams& p, CUstream stream, const GemvFusion& fu) {
  if (k % 8 != 0) fail("gemv_bf16: k=", k, " is not a multiple of 8 (16-byte weight loads)");
  if (w % 16 != 0 || x % 16 != 0) fail("gemv_bf16: weight and input must be 16-byte aligned");
  if (m < 1 || m > 8) fail("gemv_bf16: m=", m, " outside 1..8");
  if (!gemv_params_valid(p, m)) fail("gemv_bf16: schedule ", p.str(), " is outside the generator's space for m=", m);
  if (n <= 0 || n > (1ll << 31) - 1 || k > (1ll << 31) - 1) fail("gemv_bf16: shape n=", n, " k=", k, " out of range");
  if (fu.input == GemvInput::RmsNorm && (!fu.gamma || !fu.ss_in))
    fail("gemv_bf16: an RMSNorm prologue needs gamma and the input's sums of squares");
  if (fu.output == GemvOutput::AccumulateSumSq && !fu.ss_out) fail("gemv_bf16: accumulate_sumsq needs ss_out");
  if (gemv_gated(fu.output) && n % 2) fail("gemv_bf16: a gated (SwiGLU/GeGLU) epilogue needs an even n, got ", n);
  if (fu.xn_out && (fu.input != GemvInput::RmsNorm || fu.xn_out % 16 != 0))
    fail("gemv_bf16: xn_out needs the RMSNorm prologue and a 16-byte aligned buffer");
  if ((fu.output == GemvOutput::ArgMax) != (fu.argmax_words != 0))
    fail("gemv_bf16: argmax_words goes with the ArgMax epilogue, and only with it");
  if (fu.output == GemvOutput::ArgMax && accumulate) fail("gemv_bf16: the ArgMax epilogue stores y (no accumulate)");
  CUfunction f = bc::cached_kernel("gemv_bf16_m" + std::to_string(m) + "_" + p.str() + "_" + fu.str(),
                                   [&] { return gemv_bf16_source(m, p, fu); }, "gemv_bf16");
  int ni = static_cast<int>(n), ki = static_cast<int>(k), acc = accumulate ? 1 : 0;
  CUdeviceptr gamma = fu.gamma, ss_in = fu.ss_in, ss_out = fu.ss_out, xn_out = fu.xn_out, words = fu.argmax_words;
  float eps = fu.eps;
  void* args[] = {&x, &w, &y, &ni, &ki, &acc, &gamma, &ss_in, &eps, &ss_out, &xn_out, &words};
  const int threads = gemv_threads(p);
  int smem = gemv_ring_bytes(p);
  if (p.stages && !p.persistent) {
    // One row group per block: its rows fill ceil(k / columns per stage) stages at most, so a short row
    // leaves the rest of the ring unused; asking only for what is used fits more blocks on an SM.
    const int64_t cols = p.chunk_bytes / (2 * p.rows_per_block());
    smem = static_cast<int>(std::min<int64_t>(p.stages, (k + cols - 1) / cols) * p.chunk_bytes);
  }
  allow_shared_memory(f, smem);
  unsigned blocks = static_cast<unsigned>((n + p.rows_per_block() - 1) / p.rows_per_block());
  if (p.persistent) blocks = std::min(blocks, resident_blocks(f, threads, smem));
  // Under a kernel trace the launch is named with its shape, so a timeline tells the projections apart.
  const std::string what = bc::active_trace() ? "gemv_bf16 " + std::to_string(n) + "x" + std::to_string(k) : "gemv_bf16";
  bc::launch(f, {blocks}, {static_cast<unsigned>(threads)}, static_cast<unsigned>(smem), stream, args, what.c_str());
}

}  // namespace synaptix::kernels::cuda
