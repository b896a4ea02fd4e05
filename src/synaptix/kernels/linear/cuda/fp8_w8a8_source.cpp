#include "synaptix/kernels/linear/cuda/fp8_w8a8_cuda.h"

#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {

std::string fp8_w8a8_source() { return kDevicePrelude + std::string(kernels::cuda_source("kernels/linear/cuda/fp8_w8a8.cu")); }

}  // namespace synaptix::kernels::cuda
