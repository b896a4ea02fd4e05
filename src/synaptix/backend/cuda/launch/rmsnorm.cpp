#include "synaptix/backend/cuda/launch/rmsnorm.h"

#include <string>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

void rmsnorm(CUdeviceptr x, CUdeviceptr rows, CUdeviceptr w, CUdeviceptr y, int64_t out_rows, int64_t dim,
             float eps, bool out_bf16, CUstream stream) {
  if (out_rows <= 0 || dim <= 0) fail("rmsnorm: bad shape rows=", out_rows, " dim=", dim);
  CUfunction f = bc::cached_kernel("rmsnorm", rmsnorm_source, "rmsnorm");
  int d = static_cast<int>(dim), ob = out_bf16 ? 1 : 0;
  void* args[] = {&x, &rows, &w, &y, &d, &eps, &ob};
  bc::launch(f, {static_cast<unsigned>(out_rows)}, {256}, 0, stream, args, "rmsnorm");
}

void rmsnorm_add(CUdeviceptr t, CUdeviceptr w, CUdeviceptr residual, int64_t rows, int64_t dim, float eps,
                 CUstream stream) {
  if (rows <= 0 || dim <= 0) fail("rmsnorm_add: bad shape rows=", rows, " dim=", dim);
  CUfunction f = bc::cached_kernel("rmsnorm_add", rmsnorm_add_source, "rmsnorm_add");
  int d = static_cast<int>(dim);
  void* args[] = {&t, &w, &residual, &d, &eps};
  bc::launch(f, {static_cast<unsigned>(rows)}, {256}, 0, stream, args, "rmsnorm_add");
}

}  // namespace synaptix::kernels::cuda
