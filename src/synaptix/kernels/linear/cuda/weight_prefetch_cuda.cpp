#include "synaptix/kernels/linear/cuda/weight_prefetch_cuda.h"

#include "synaptix/backend/cuda/device_prelude.h"
#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;
namespace {

// Real loads (not prefetch hints, which the memory system may drop), cached in L2 only; asm volatile keeps
// them although their values are unused.
const char* kBody = R"(
extern "C" __global__ void __launch_bounds__(256)
weight_prefetch(const uint4* __restrict__ p, long long n16) {
  pdl_wait();
  pdl_launch_dependents();
  for (long long i = blockIdx.x * 256LL + threadIdx.x; i < n16; i += (long long)gridDim.x * 256) {
    unsigned int a, b, c, d;
    asm volatile("ld.global.cg.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(a), "=r"(b), "=r"(c), "=r"(d) : "l"(p + i));
  }
}
)";

}  // namespace

std::string weight_prefetch_source() { return std::string(bc::kDevicePrelude) + kBody; }

void weight_prefetch(CUdeviceptr ptr, int64_t bytes, int blocks, CUstream stream) {
  if (bytes < 16 || blocks < 1) return;
  if (ptr % 16) fail("weight_prefetch: address not 16-byte aligned");
  CUfunction f = bc::cached_kernel("weight_prefetch", weight_prefetch_source, "weight_prefetch");
  long long n16 = bytes / 16;
  void* args[] = {&ptr, &n16};
  bc::PdlScope no_pdl(false);  // its stream holds only prefetches; nothing to overlap with
  bc::launch(f, {static_cast<unsigned>(blocks)}, {256}, 0, stream, args, "weight_prefetch");
}

}  // namespace synaptix::kernels::cuda
