#include "synaptix/kernels/moe/cuda/moe_rows_cuda.h"

#include <string>

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {

const char* kBody = R"(
extern "C" __global__ void gather_rows(const float* __restrict__ src, const int* __restrict__ rows, float* dst, int dim) {
  pdl_wait();
  pdl_launch_dependents();
  const float* s = src + (long long)rows[blockIdx.x] * dim;
  float* d = dst + (long long)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) d[i] = s[i];
}
extern "C" __global__ void scatter_add_scaled(const float* __restrict__ src, const int* __restrict__ rows,
                                              const float* __restrict__ weights, float* dst, int dim) {
  pdl_wait();
  pdl_launch_dependents();
  const float w = weights[blockIdx.x];
  const float* s = src + (long long)blockIdx.x * dim;
  float* d = dst + (long long)rows[blockIdx.x] * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) d[i] = fmaf(w, s[i], d[i]);
}
)";

}  // namespace

std::string moe_rows_source() { return std::string(bc::kDevicePrelude) + kBody; }

void gather_rows(CUdeviceptr src, CUdeviceptr rows, CUdeviceptr dst, int64_t n, int64_t dim, CUstream stream) {
  if (n <= 0) return;
  CUfunction f = bc::cached_kernel("moe_rows", moe_rows_source, "gather_rows");
  int d = static_cast<int>(dim);
  void* args[] = {&src, &rows, &dst, &d};
  bc::launch(f, {static_cast<unsigned>(n)}, {256}, 0, stream, args, "gather_rows");
}

void scatter_add_scaled(CUdeviceptr src, CUdeviceptr rows, CUdeviceptr weights, CUdeviceptr dst, int64_t n,
                        int64_t dim, CUstream stream) {
  if (n <= 0) return;
  CUfunction f = bc::cached_kernel("moe_rows", moe_rows_source, "scatter_add_scaled");
  int d = static_cast<int>(dim);
  void* args[] = {&src, &rows, &weights, &dst, &d};
  bc::launch(f, {static_cast<unsigned>(n)}, {256}, 0, stream, args, "scatter_add_scaled");
}

}  // namespace synaptix::kernels::cuda
