#pragma once
// Embedding lookup on the device: out[i, :] = f32(table[ids[i], :]), table bf16 [vocab, dim]. The caller
// validates ids against the vocabulary before they reach the device.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace synaptix::kernels::cuda {

std::string embedding_source();

// With `ss`, also writes each row's sum of squares to ss[i] (the first RMSNorm's statistic, see
// GemvInput::RmsNorm) and zeroes ss[n, n + ss_zero) (the accumulators the later layers add into).
void embedding(CUdeviceptr ids, CUdeviceptr table, CUdeviceptr out, int64_t n, int64_t dim, CUstream stream,
               CUdeviceptr ss = 0, int64_t ss_zero = 0);

}  // namespace synaptix::kernels::cuda
