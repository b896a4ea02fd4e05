#include "synaptix/kernels/swiglu/cuda/swiglu_cuda.h"

#include <algorithm>
#include <string>

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {

const char* kBody = R"(
extern "C" __global__ void swiglu(const float* __restrict__ gu, void* out, long long m, long long inter, int out_bf16) {
  pdl_wait();
  pdl_launch_dependents();
  const long long total = m * inter;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    const long long r = i / inter, c = i - r * inter;
    // gate and up interleaved per column (the device weights' gate_up layout).
    const float g = gu[r * 2 * inter + 2 * c], u = gu[r * 2 * inter + 2 * c + 1];
    const float v = g / (1.f + expf(-g)) * u;
    if (out_bf16) ((bf16_t*)out)[i] = f32_to_bf16(v); else ((float*)out)[i] = v;
  }
}
extern "C" __global__ void split_bf16(const float* __restrict__ src, bf16_t* __restrict__ hi, bf16_t* __restrict__ lo, long long n) {
  pdl_wait();
  pdl_launch_dependents();
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const bf16_t h = f32_to_bf16(src[i]);
    hi[i] = h;
    lo[i] = f32_to_bf16(src[i] - bf16_to_f32(h));
  }
}
extern "C" __global__ void to_bf16(const float* __restrict__ src, bf16_t* __restrict__ dst, long long n) {
  pdl_wait();
  pdl_launch_dependents();
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[i] = f32_to_bf16(src[i]);
}
)";

}  // namespace

std::string swiglu_source() { return std::string(bc::kDevicePrelude) + kBody; }

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
