// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/weight_prefetch.cpp).
#include "synaptix/kernels/linear/cuda/weight_prefetch_cuda.h"



#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {

// Real loads (not prefetch hints, which the memory system may drop), cached in L2 only; asm volatile keeps
// them although their values are unused.
const std::string kBody(kernels::cuda_source("kernels/linear/cuda/weight_prefetch.cu"));

}  // namespace

std::string weight_prefetch_source() { return std::string(kDevicePrelude) + kBody; }

}  // namespace synaptix::kernels::cuda
