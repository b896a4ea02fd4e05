#include "synaptix/kernels/sampling/cuda/argmax_cuda.h"

#include <string>

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {
const char* kBody = R"(
__device__ __forceinline__ void better(float& bv, int& bi, float v, int i) {
  // NaN never wins; ties go to the lower index.
  if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
}
extern "C" __global__ void __launch_bounds__(1024) argmax_rows(const float* __restrict__ logits, int* ids, int vocab) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ float sv[32];
  __shared__ int si[32];
  const float* row = logits + (size_t)blockIdx.x * vocab;
  float bv = -INFINITY; int bi = 0x7fffffff;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) better(bv, bi, row[i], i);
  for (int o = 16; o > 0; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, bv, o); int j = __shfl_xor_sync(0xffffffffu, bi, o);
    better(bv, bi, v, j);
  }
  if ((threadIdx.x & 31) == 0) { sv[threadIdx.x >> 5] = bv; si[threadIdx.x >> 5] = bi; }
  __syncthreads();
  if (threadIdx.x < 32) {
    bv = threadIdx.x < (blockDim.x >> 5) ? sv[threadIdx.x] : -INFINITY;
    bi = threadIdx.x < (blockDim.x >> 5) ? si[threadIdx.x] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) {
      float v = __shfl_xor_sync(0xffffffffu, bv, o); int j = __shfl_xor_sync(0xffffffffu, bi, o);
      better(bv, bi, v, j);
    }
    if (threadIdx.x == 0) ids[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
  }
}
)";
}  // namespace

std::string argmax_source() { return std::string(bc::kDevicePrelude) + kBody; }

void argmax_rows(CUdeviceptr logits, CUdeviceptr ids, int64_t rows, int64_t vocab, CUstream stream) {
  if (rows <= 0 || vocab <= 0) fail("argmax_rows: bad shape rows=", rows, " vocab=", vocab);
  CUfunction f = bc::cached_kernel("argmax_rows", argmax_source, "argmax_rows");
  int v = static_cast<int>(vocab);
  void* args[] = {&logits, &ids, &v};
  bc::launch(f, {static_cast<unsigned>(rows)}, {1024}, 0, stream, args, "argmax_rows");
}

}  // namespace synaptix::kernels::cuda
