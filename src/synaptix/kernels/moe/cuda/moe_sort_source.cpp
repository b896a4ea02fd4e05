// The CUDA C++ source of this op's kernels for a point of its space (no driver calls: NVRTC compiles it
// at run time; the launchers are in backend/cuda/launch/moe_sort.cpp).
#include "synaptix/kernels/moe/cuda/moe_sort_cuda.h"



#include "synaptix/core/error.h"
#include "synaptix/kernels/common/cuda/device_prelude.h"
#include "synaptix/kernels/cuda_sources.h"
#include "synaptix/kernels/moe/cuda/moe_route_cuda.h"

namespace synaptix::kernels::cuda {
namespace {

// One warp: count, scan, then place the pairs 32 at a time in pair order; lanes of a chunk that share an
// expert take consecutive places by lane (__match_any_sync), so the order within an expert is token order.
// A prefill step of 4096 tokens x 8 experts is 1024 chunks: tens of microseconds, beside its GEMMs.
const std::string kBody(kernels::cuda_source("kernels/moe/cuda/moe_sort.cu"));

}  // namespace

std::string moe_sort_source() { return std::string(kDevicePrelude) + kBody; }

}  // namespace synaptix::kernels::cuda
