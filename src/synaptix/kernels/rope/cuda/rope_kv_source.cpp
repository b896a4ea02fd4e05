// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/rope_kv.cpp).
#include "synaptix/kernels/rope/cuda/rope_kv_cuda.h"

#include <string>

#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {
namespace {

const std::string kRopeHead(kernels::cuda_source("kernels/rope/cuda/rope_head.cuh"));

const std::string kBody(kernels::cuda_source("kernels/rope/cuda/rope_kv.cu"));

}  // namespace

std::string rope_head_device_source() { return kRopeHead; }

const std::string kKvFp8(kernels::cuda_source("kernels/attention/cuda/kv_fp8.cuh"));
const std::string kKvInt8(kernels::cuda_source("kernels/attention/cuda/kv_int8.cuh"));

std::string rope_kv_source() { return std::string(kDevicePrelude) + kRopeHead + kKvFp8 + kKvInt8 + kBody; }

}  // namespace synaptix::kernels::cuda
