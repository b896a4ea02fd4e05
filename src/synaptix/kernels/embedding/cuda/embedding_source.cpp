// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/embedding.cpp).
#include "synaptix/kernels/embedding/cuda/embedding_cuda.h"

#include <string>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"
#include "synaptix/kernels/linear/cuda/gemv_bf16.h"

namespace synaptix::kernels::cuda {
namespace {
const std::string kBody(kernels::cuda_source("kernels/embedding/cuda/embedding.cu"));
const std::string kScaleBody(kernels::cuda_source("kernels/embedding/cuda/embedding_scale.cu"));
}  // namespace

std::string embedding_source() {
  return std::string(kDevicePrelude) + "#define ARGMAX_STRIDE " + std::to_string(kGemvArgmaxWordStride) + "\n" + kBody;
}

std::string embedding_scale_source() { return std::string(kDevicePrelude) + kScaleBody; }

}  // namespace synaptix::kernels::cuda
