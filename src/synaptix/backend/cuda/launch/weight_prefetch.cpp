#include "synaptix/backend/cuda/launch/weight_prefetch.h"

#include "synaptix/backend/cuda/module.h"
#include "synaptix/core/error.h"

namespace synaptix::kernels::cuda {
namespace bc = backend::cuda;

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
