#pragma once
// Embedding lookup on the device: out[i, :] = f32(table[ids[i], :]), table bf16 [vocab, dim]. The caller
// validates ids against the vocabulary before they reach the device.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string embedding_source();

void embedding(CUdeviceptr ids, CUdeviceptr table, CUdeviceptr out, int64_t n, int64_t dim, CUstream stream);

}  // namespace synaptix::kernels::cuda
