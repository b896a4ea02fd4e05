// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/sample.cpp).
#include "synaptix/kernels/sampling/cuda/sample_cuda.h"

#include <cmath>
#include <string>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {
// NT threads per block, CL blocks (one cluster) per row. Every decision below is computed identically by
// all blocks of a cluster from the same combined data, so their control flow (and barrier count) agrees.
const std::string kBody(kernels::cuda_source("kernels/sampling/cuda/sample.cu"));
}  // namespace

std::string sample_source() { return std::string(kDevicePrelude) + kClusterPrelude + kBody; }

}  // namespace synaptix::kernels::cuda
