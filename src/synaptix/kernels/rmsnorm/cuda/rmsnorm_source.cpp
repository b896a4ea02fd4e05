// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/rmsnorm.cpp).
#include "synaptix/kernels/rmsnorm/cuda/rmsnorm_cuda.h"

#include <string>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {

const std::string kBody(kernels::cuda_source("kernels/rmsnorm/cuda/rmsnorm.cu"));
const std::string kAddBody(kernels::cuda_source("kernels/rmsnorm/cuda/rmsnorm_add.cu"));

}  // namespace

std::string rmsnorm_source() { return std::string(kDevicePrelude) + kBody; }

std::string rmsnorm_add_source() { return std::string(kDevicePrelude) + kAddBody; }

}  // namespace synaptix::kernels::cuda
