#include "synaptix/backend/cuda/launch/moe_route.h"

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

void moe_route(CUdeviceptr logits, CUdeviceptr ids, CUdeviceptr weights, int64_t tokens, int64_t experts,
               int64_t top_k, bool normalize, CUstream stream) {
  if (experts < 1 || experts > kMoeRouteMaxExperts)
    fail("moe_route: ", experts, " experts, expected 1..", kMoeRouteMaxExperts);
  if (top_k < 1 || top_k > experts) fail("moe_route: top_k=", top_k, " outside 1..", experts, " (the experts)");
  if (tokens <= 0) return;
  if (tokens > (1ll << 31) - 1) fail("moe_route: ", tokens, " tokens exceed one launch grid");
  CUfunction f = bc::cached_kernel("moe_route", moe_route_source, "moe_route");
  int e = static_cast<int>(experts), k = static_cast<int>(top_k), norm = normalize ? 1 : 0;
  void* args[] = {&logits, &e, &k, &norm, &ids, &weights};
  const unsigned smem = static_cast<unsigned>(experts * 4);
  bc::launch(f, {static_cast<unsigned>(tokens)}, {32}, smem, stream, args, "moe_route");
}

}  // namespace synaptix::kernels::cuda
