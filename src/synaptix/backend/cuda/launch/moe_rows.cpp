#include "synaptix/backend/cuda/launch/moe_rows.h"

#include <string>

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

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
