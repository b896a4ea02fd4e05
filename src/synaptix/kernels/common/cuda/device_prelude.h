#pragma once
// CUDA C++ helpers every generated kernel source starts with (NVRTC compiles without the toolkit's headers):
// bf16 <-> f32 conversions (round to nearest even, as PyTorch), 16-byte streaming loads, warp reductions,
// programmatic-dependent-launch waits (device_prelude.cuh); kClusterPrelude adds distributed shared memory
// for cluster kernels (cluster_prelude.cuh). Sources that need clusters append it after kDevicePrelude; the
// rest leave it out, so they still compile for targets without clusters.
#include <string>

#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::kernels::cuda {

inline const std::string kDevicePrelude{kernels::cuda_source("kernels/common/cuda/device_prelude.cuh")};
inline const std::string kClusterPrelude{kernels::cuda_source("kernels/common/cuda/cluster_prelude.cuh")};

}  // namespace synaptix::kernels::cuda
