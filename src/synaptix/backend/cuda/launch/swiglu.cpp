#include "synaptix/backend/cuda/launch/swiglu.h"

#include <algorithm>
#include <string>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

namespace {
CUfunction fn(const char* name) {
  return bc::cached_kernel("swiglu", swiglu_source, name);
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::clamp<int64_t>((n + 255) / 256, 1, 8192)); }

}  // namespace

void swiglu(CUdeviceptr gu, CUdeviceptr out, int64_t m, int64_t inter, bool out_bf16, CUstream stream) {
  if (m <= 0 || inter <= 0) fail("swiglu: bad shape m=", m, " inter=", inter);
  long long mm = m, ii = inter;
  int ob = out_bf16 ? 1 : 0;
  void* args[] = {&gu, &out, &mm, &ii, &ob};
  bc::launch(fn("swiglu"), {blocks_for(m * inter)}, {256}, 0, stream, args, "swiglu");
}

void geglu_tanh(CUdeviceptr gu, CUdeviceptr out, int64_t m, int64_t inter, bool out_bf16, CUstream stream) {
  if (m <= 0 || inter <= 0) fail("geglu_tanh: bad shape m=", m, " inter=", inter);
  long long mm = m, ii = inter;
  int ob = out_bf16 ? 1 : 0;
  void* args[] = {&gu, &out, &mm, &ii, &ob};
  bc::launch(bc::cached_kernel("geglu", geglu_source, "geglu_tanh"), {blocks_for(m * inter)}, {256}, 0, stream, args,
             "geglu_tanh");
}

void split_bf16(CUdeviceptr src, CUdeviceptr hi, CUdeviceptr lo, int64_t n, CUstream stream) {
  if (n <= 0) return;
  long long nn = n;
  void* args[] = {&src, &hi, &lo, &nn};
  bc::launch(fn("split_bf16"), {blocks_for(n)}, {256}, 0, stream, args, "split_bf16");
}

void to_bf16(CUdeviceptr src, CUdeviceptr dst, int64_t n, CUstream stream) {
  if (n <= 0) return;
  long long nn = n;
  void* args[] = {&src, &dst, &nn};
  bc::launch(fn("to_bf16"), {blocks_for(n)}, {256}, 0, stream, args, "to_bf16");
}

}  // namespace synaptix::kernels::cuda
