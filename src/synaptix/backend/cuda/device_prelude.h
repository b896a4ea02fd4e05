#pragma once
// CUDA C++ helpers every generated kernel source starts with (NVRTC compiles without the toolkit's headers):
// bf16 <-> f32 conversions (round to nearest even, as PyTorch), 16-byte streaming loads, warp reductions;
// kClusterPrelude adds distributed shared memory for cluster kernels.
#include <string>

#include "synaptix/kernels/cuda_sources.h"

namespace synaptix::backend::cuda {

inline const std::string kDevicePrelude{kernels::cuda_source("kernels/common/cuda/device_prelude.cuh")};

// Distributed shared memory (sm_90 and later), for kernels launched as thread block clusters: a block reads
// the same variable of another block of its cluster. Sources that need it append it after kDevicePrelude;
// the rest leave it out, so they still compile for targets without clusters.
inline const std::string kClusterPrelude{kernels::cuda_source("kernels/common/cuda/cluster_prelude.cuh")};

}  // namespace synaptix::backend::cuda
