#include "synaptix/backend/cuda/launch/moe_sort.h"

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/moe/cuda/moe_route_cuda.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

void moe_sort(CUdeviceptr ids, CUdeviceptr weights, CUdeviceptr counts, CUdeviceptr rows, CUdeviceptr sorted_weights,
              int64_t tokens, int64_t top_k, int64_t experts, CUstream stream) {
  if (experts < 1 || experts > kMoeRouteMaxExperts)
    fail("moe_sort: ", experts, " experts, expected 1..", kMoeRouteMaxExperts);
  if (top_k < 1 || top_k > experts) fail("moe_sort: top_k=", top_k, " outside 1..", experts, " (the experts)");
  if (tokens < 0 || tokens * top_k > (1ll << 31) - 1) fail("moe_sort: ", tokens, " tokens of top_k ", top_k, " out of range");
  CUfunction f = bc::cached_kernel("moe_sort", moe_sort_source, "moe_sort");
  int pairs = static_cast<int>(tokens * top_k), k = static_cast<int>(top_k), e = static_cast<int>(experts);
  void* args[] = {&ids, &weights, &counts, &rows, &sorted_weights, &pairs, &k, &e};
  bc::launch(f, {1}, {32}, static_cast<unsigned>(experts * 4), stream, args, "moe_sort");
}

}  // namespace synaptix::kernels::cuda
