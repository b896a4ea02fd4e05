// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/argmax.cpp).
#include "synaptix/kernels/sampling/cuda/argmax_cuda.h"

#include <string>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {
const std::string kBody(kernels::cuda_source("kernels/sampling/cuda/argmax.cu"));
}  // namespace

int64_t argmax_scratch_bytes(int64_t capacity) { return capacity * kArgmaxSplits * 8 + capacity * 4; }

std::string argmax_source() { return std::string(kDevicePrelude) + kBody; }

}  // namespace synaptix::kernels::cuda
