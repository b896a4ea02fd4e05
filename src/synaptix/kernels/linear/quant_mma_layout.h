#pragma once
// The tensor-core layout of a weight-format matrix (quant/weight_format.h) that kernels/linear/cuda/quant_mma.cu
// reads: the packed rows regrouped at model load so that every load is a whole 16-byte word of one lane's
// mma operand and every warp load 512 contiguous bytes, scales apart from codes. Rows are padded to tiles of
// 16 and k to k_pad, a multiple of the words' k (64 for 8-bit codes, 128 for 4-bit), with zero codes and zero
// scales (zero products). Regions (each starting 256-byte aligned, in this order):
//  - codes: [n_tiles][kw][half h][lane] 16-byte words; lane (g = lane / 4, q = lane % 4), h: row
//    tile * 16 + g + 8h. 8-bit codes: byte 4s + j of the word is k = word * 64 + 16s + 4q + j. 4-bit codes:
//    32-bit word i holds steps s = 2i + p / 2 (p = 0..3) as nibbles at bits 4p (j = 2 (p % 2)) and 16 + 4p
//    (j = 2 (p % 2) + 1), k = word * 128 + 16s + 4q + j (quant_mma_decode.cuh decodes them).
//  - scales: int4 f16 d and mxfp4 u8 E8M0 per [n_tiles][k_pad / group][16 rows]; int8 / fp8 the f32 row scale
//    per padded row.
//  - zeros (int4 asymmetric only): u8 zero point per [n_tiles][k_pad / group][16 rows].
// The codes and parameters are the packed rows' own (bit for bit): the layout changes where they are, never
// what they are.
#include <cstdint>
#include <vector>

#include "synaptix/quant/weight_format.h"

namespace synaptix::kernels::cuda {

struct QuantMmaLayout {
  int64_t n = 0, k = 0;
  int64_t n_tiles = 0;       // ceil(n / 16)
  int64_t word_k = 0;        // k of one 16-byte word of a row: 64 (8-bit codes) or 128 (4-bit)
  int64_t k_pad = 0;         // k rounded up to word_k
  int64_t kw = 0;            // words of a row: k_pad / word_k
  int64_t group = 0;         // elements per scale (0: one per row)
  int64_t groups = 0;        // scales per row: k_pad / group (0 for per-row scales)
  int64_t scales_offset = 0, zeros_offset = 0, total_bytes = 0;
};

// The layout of an n x k matrix of format f. Throws synaptix::Error (naming the format) when k is not whole
// groups, n or k are not positive, or k % 4 != 0.
QuantMmaLayout quant_mma_layout(const quant::WeightFormat& f, int64_t n, int64_t k);
// n packed rows of k elements (n * weight_row_bytes(f, k) bytes at packed) into the layout (total_bytes at out).
void quant_mma_repack(const quant::WeightFormat& f, const uint8_t* packed, int64_t n, int64_t k, uint8_t* out);
std::vector<uint8_t> quant_mma_repack(const quant::WeightFormat& f, const uint8_t* packed, int64_t n, int64_t k);

}  // namespace synaptix::kernels::cuda
