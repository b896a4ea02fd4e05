#pragma once
// Random fills on the device (a counter-based hash, so any element can be regenerated from (seed, index)
// on the host for checks): synthetic weights for benchmarks and inputs for kernel tests without shipping
// gigabytes over PCIe.
#include <cuda.h>

#include <cstddef>
#include <cstdint>

namespace synaptix::backend::cuda {

// Uniform in [-scale, scale). The host versions give the exact values the device writes.
void fill_uniform_bf16(CUdeviceptr dst, size_t count, uint64_t seed, float scale, CUstream stream);
void fill_uniform_f32(CUdeviceptr dst, size_t count, uint64_t seed, float scale, CUstream stream);
float uniform_value(uint64_t seed, uint64_t index, float scale);

}  // namespace synaptix::backend::cuda
