#pragma once
// Embedding lookup and the dtype conversion of one row to f32.
#include <cstdint>

#include "synaptix/core/dtype.h"

namespace synaptix::kernels {

// Converts n elements of `src` (f32, bf16 or f16) to f32.
void to_f32(const void* src, DType t, int64_t n, float* dst);
// out[i, :] = table[ids[i], :], table [vocab, dim].
void embedding_reference(const void* table, DType t, int64_t dim, const int32_t* ids, int64_t n, float* out);

}  // namespace synaptix::kernels
