#pragma once
// The GGUF block types as DTypes a TensorRef and the linear op carry (Q4_0 .. Q6_K in core/dtype.h), tied to
// their block layouts (block_format.h): which ggml type a DType is, the DType of a ggml type, and the bytes
// of a row of k elements. A matrix of a block dtype is stored row by row, each row k / block_elems whole
// blocks, so row r starts at r * row_bytes(t, k).
#include <cstdint>
#include <optional>

#include "synaptix/core/dtype.h"
#include "synaptix/quant/block_format.h"

namespace synaptix::quant {

// The block layout of a block dtype; nullptr for every other dtype.
const BlockFormat* block_format(DType t);
// The block dtype of a ggml type (Q4_0 .. Q6_K); nullopt for scalar types and block types without a DType
// (Q8_K).
std::optional<DType> block_dtype(GgmlType t);
// Bytes of one row of k elements: k * dtype_size for scalar dtypes, whole blocks for block dtypes, the weight
// formats' packed rows (weight_format.h) for theirs. Throws
// synaptix::Error naming the dtype and k when k is not a multiple of the block size (or a sub-byte type).
int64_t row_bytes(DType t, int64_t k);

}  // namespace synaptix::quant
