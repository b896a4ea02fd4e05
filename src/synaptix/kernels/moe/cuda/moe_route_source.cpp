// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/moe_route.cpp).
#include "synaptix/kernels/moe/cuda/moe_route_cuda.h"



#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {

// One warp per token; the probabilities live in shared memory. A few hundred experts at most per token,
// so the serial parts (the sums, in the reference's order) cost well under a microsecond.
const std::string kBody(kernels::cuda_source("kernels/moe/cuda/moe_route.cu"));

}  // namespace

std::string moe_route_source() { return std::string(kDevicePrelude) + kBody; }

}  // namespace synaptix::kernels::cuda
