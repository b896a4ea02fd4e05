#include "synaptix/kernels/moe/cuda/moe_sort_cuda.h"

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"
#include "synaptix/kernels/moe/cuda/moe_route_cuda.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {

// One warp: count, scan, then place the pairs 32 at a time in pair order; lanes of a chunk that share an
// expert take consecutive places by lane (__match_any_sync), so the order within an expert is token order.
// A prefill step of 4096 tokens x 8 experts is 1024 chunks: tens of microseconds, beside its GEMMs.
const char* kBody = R"(
extern "C" __global__ void __launch_bounds__(32) moe_sort(const int* __restrict__ ids, const float* __restrict__ weights,
                                                          int* __restrict__ counts, int* __restrict__ rows,
                                                          float* __restrict__ sorted_weights, int pairs, int K, int E) {
  extern __shared__ int next[];  // per expert: the next free place
  pdl_wait();
  pdl_launch_dependents();
  const int lane = threadIdx.x;
  for (int e = lane; e < E; e += 32) next[e] = 0;
  __syncwarp();
  for (int p = lane; p < pairs; p += 32) atomicAdd(&next[ids[p]], 1);
  __syncwarp();
  if (lane == 0) {
    int off = 0;
    for (int e = 0; e < E; ++e) {
      const int c = next[e];
      counts[e] = c;
      next[e] = off;
      off += c;
    }
  }
  __syncwarp();
  for (int base = 0; base < pairs; base += 32) {
    const int p = base + lane;
    const int e = p < pairs ? ids[p] : -1 - lane;  // past the end: a key no other lane has
    const unsigned peers = __match_any_sync(0xffffffffu, e);
    const int rank = __popc(peers & ((1u << lane) - 1u));
    if (p < pairs) {
      const int at = next[e] + rank;
      rows[at] = p / K;
      sorted_weights[at] = weights[p];
    }
    __syncwarp();
    if (p < pairs && rank == 0) next[e] += __popc(peers);
    __syncwarp();
  }
}
)";

}  // namespace

std::string moe_sort_source() { return std::string(bc::kDevicePrelude) + kBody; }

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
