#pragma once
// Reference dequantizers: packed GGUF blocks to f32 (or bf16, rounded to nearest even from the f32 value).
// Written from the block layouts of ggml-common.h; tests/quant checks them against gguf-py's dequantizers.
// These are the loaders' path (dequantize once at load); native execution of the blocks is the kernels' job.
#include <cstdint>

#include "synaptix/quant/block_format.h"

namespace synaptix::quant {

// Dequantizes `elems` elements (a whole number of blocks of `f`; the caller has checked) from `src`, which
// holds packed_bytes(f, elems) bytes, into dst[0, elems).
void dequantize_f32(const BlockFormat& f, const uint8_t* src, int64_t elems, float* dst);
void dequantize_bf16(const BlockFormat& f, const uint8_t* src, int64_t elems, uint16_t* dst);

}  // namespace synaptix::quant
