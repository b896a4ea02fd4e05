// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/moe_rows.cpp).
#include "synaptix/kernels/moe/cuda/moe_rows_cuda.h"

#include <string>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {

const std::string kBody(kernels::cuda_source("kernels/moe/cuda/moe_rows.cu"));

}  // namespace

std::string moe_rows_source() { return std::string(kDevicePrelude) + kBody; }

}  // namespace synaptix::kernels::cuda
