#include "synaptix/kernels/embedding/cuda/embedding_cuda.h"

#include <string>

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {
const char* kBody = R"(
extern "C" __global__ void embedding(const int* __restrict__ ids, const bf16_t* __restrict__ table, float* out, int dim) {
  const bf16_t* row = table + (size_t)ids[blockIdx.x] * dim;
  float* o = out + (size_t)blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = bf16_to_f32(row[i]);
}
)";
}  // namespace

std::string embedding_source() { return std::string(bc::kDevicePrelude) + kBody; }

void embedding(CUdeviceptr ids, CUdeviceptr table, CUdeviceptr out, int64_t n, int64_t dim, CUstream stream) {
  if (n <= 0 || dim <= 0) fail("embedding: bad shape n=", n, " dim=", dim);
  CUfunction f = bc::cached_kernel("embedding", embedding_source, "embedding");
  int d = static_cast<int>(dim);
  void* args[] = {&ids, &table, &out, &d};
  bc::launch(f, {static_cast<unsigned>(n)}, {256}, 0, stream, args, "embedding");
}

}  // namespace synaptix::kernels::cuda
