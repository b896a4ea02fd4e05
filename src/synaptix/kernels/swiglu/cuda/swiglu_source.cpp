// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/swiglu.cpp).
#include "synaptix/kernels/swiglu/cuda/swiglu_cuda.h"

#include <algorithm>
#include <string>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {

const std::string kBody(kernels::cuda_source("kernels/swiglu/cuda/swiglu.cu"));
const std::string kGegluBody(kernels::cuda_source("kernels/swiglu/cuda/geglu.cu"));

}  // namespace

std::string swiglu_source() { return std::string(kDevicePrelude) + kBody; }

std::string geglu_source() { return std::string(kDevicePrelude) + kGegluBody; }

}  // namespace synaptix::kernels::cuda
