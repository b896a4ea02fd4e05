#include "synaptix/backend/cuda/launch/fp8_w8a8.h"

#include <algorithm>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/linear/cuda/fp8_w8a8_cuda.h"

namespace synaptix::kernels::cuda {

namespace bc = backend::cuda;

namespace {
CUfunction fn(const char* kernel) { return bc::cached_kernel(std::string("fp8_w8a8/") + kernel, [] { return fp8_w8a8_source(); }, kernel); }

void check_dims(const char* what, int64_t rows, int64_t k) {
  if (rows < 1 || rows > (1ll << 31) - 1 || k < 1 || k > (1ll << 31) - 1)
    fail(what, ": shape ", rows, " x ", k, " out of range");
}
}  // namespace

void fp8_quantize_rows(CUdeviceptr x, CUdeviceptr q, CUdeviceptr scale, int64_t m, int64_t k, CUstream stream) {
  check_dims("fp8_quantize_rows", m, k);
  if (k % 4 || x % 16) fail("fp8_quantize_rows: k=", k, " (a multiple of 4) and a 16-byte aligned x expected (4 elements a load)");
  int ki = static_cast<int>(k);
  void* args[] = {&x, &q, &scale, &ki};
  bc::launch(fn("fp8_quantize_rows"), {static_cast<unsigned>(m)}, {256}, 0, stream, args, "fp8_quantize_rows");
}

void fp8_quantize_rows_bf16(CUdeviceptr x, CUdeviceptr q, CUdeviceptr scale, int64_t m, int64_t k, CUstream stream) {
  check_dims("fp8_quantize_rows_bf16", m, k);
  if (k % 4 || x % 8) fail("fp8_quantize_rows_bf16: k=", k, " (a multiple of 4) and an 8-byte aligned x expected (4 elements a load)");
  int ki = static_cast<int>(k);
  void* args[] = {&x, &q, &scale, &ki};
  bc::launch(fn("fp8_quantize_rows_bf16"), {static_cast<unsigned>(m)}, {256}, 0, stream, args, "fp8_quantize_rows_bf16");
}

void fp8_codes_from_mma(CUdeviceptr mma, CUdeviceptr codes, int64_t n, int64_t k, CUstream stream) {
  check_dims("fp8_codes_from_mma", n, k);
  if (k % 4) fail("fp8_codes_from_mma: k=", k, " is not a multiple of 4 (the layout's rows are whole 32-bit words)");
  int ni = static_cast<int>(n), ki = static_cast<int>(k), kw = static_cast<int>((k + 63) / 64);  // 64 codes a 16-byte word
  void* args[] = {&mma, &codes, &ni, &ki, &kw};
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((n * (k / 4) + 255) / 256, 8192));
  bc::launch(fn("fp8_codes_from_mma"), {blocks}, {256}, 0, stream, args, "fp8_codes_from_mma");
}

void fp8_unpack_weights(CUdeviceptr packed, CUdeviceptr codes, CUdeviceptr scales, int64_t n, int64_t k, CUstream stream) {
  check_dims("fp8_unpack_weights", n, k);
  if (k % 4) fail("fp8_unpack_weights: k=", k, " is not a multiple of 4 (fp8-e4m3-pc rows are 4-byte aligned)");
  int ki = static_cast<int>(k);
  void* args[] = {&packed, &codes, &scales, &ki};
  bc::launch(fn("fp8_unpack_weights"), {static_cast<unsigned>(n)}, {256}, 0, stream, args, "fp8_unpack_weights");
}

void fp8_scale_outer(CUdeviceptr y, CUdeviceptr acc, CUdeviceptr xs, CUdeviceptr ws, int64_t m, int64_t n, bool accumulate,
                     CUstream stream) {
  check_dims("fp8_scale_outer", m, n);
  if (accumulate && acc == y) fail("fp8_scale_outer: accumulating needs the product in its own buffer");
  if (n % 4 || y % 16 || acc % 16 || ws % 16)
    fail("fp8_scale_outer: n=", n, " (a multiple of 4) and 16-byte aligned y, product and column scales expected");
  int mi = static_cast<int>(m), ni = static_cast<int>(n), ac = accumulate ? 1 : 0;
  void* args[] = {&y, &acc, &xs, &ws, &mi, &ni, &ac};
  const unsigned cols = static_cast<unsigned>((n / 4 + 255) / 256), rows = static_cast<unsigned>(std::min<int64_t>(m, 65535));
  bc::launch(fn("fp8_scale_outer"), {cols, rows}, {256}, 0, stream, args, "fp8_scale_outer");
}

}  // namespace synaptix::kernels::cuda
