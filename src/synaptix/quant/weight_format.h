#pragma once
// Synaptix's weight formats as data: how a row of k weights of a matrix [n, k] is packed with its scales, so
// that, like the GGUF blocks (block_format.h), a matrix is n rows of weight_row_bytes(f, k) bytes and row r
// starts at r * weight_row_bytes. Each has a dequantization reference and a round-to-nearest quantizer
// (weight_quantize.h). Layouts (little-endian; "nibble order" = byte j holds element j in its low 4 bits and
// element j + G/2 in its high 4 bits, G the group's elements, as ggml's Q4_0):
//  - int8-pc      per output channel, symmetric: [f32 d][k x int8 q], w = d * q, q in [-127, 127].
//  - fp8-e4m3-pc  per output channel: [f32 d][k x E4M3 code], w = d * e4m3(c) (minifloat.h).
//  - int4-gG      per group of G = 32/64/128, symmetric: [f16 d][G/2 bytes, nibble order], w = d * (c - 8).
//  - int4-gG-asym per group, asymmetric: [f16 d][u8 zero point z][u8 0][G/2 bytes], w = d * (c - z), z in 0..15.
//  - mxfp4        OCP MX: blocks of 32 E2M1 values sharing an E8M0 scale: [u8 X][16 bytes, nibble order],
//                 w = 2^(X - 127) * e2m1(c).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "synaptix/core/dtype.h"

namespace synaptix::quant {

enum class CodeType : uint8_t { Int8, Fp8E4M3, Int4, Int4Asym, E2M1 };
enum class ScaleType : uint8_t { F32, F16, E8M0 };

struct WeightFormat {
  DType dtype;
  std::string_view name;      // dtype_name(dtype): what recipes and --formats write
  CodeType code;
  ScaleType scale;
  int64_t group;              // elements sharing one scale; 0 for one scale per row (per output channel)
  int64_t block_bytes;        // bytes of one group (scale, zero point, codes); 0 for per-channel formats
  int64_t row_header_bytes;   // per-channel formats: the row's scale before its codes
  int bits;                   // bits of one code
};

std::span<const WeightFormat> weight_formats();
// The format of a weight-format dtype; nullptr for every other dtype.
const WeightFormat* weight_format(DType t);
// A format by its name or a short alias ("int8" = int8-pc, "fp8" = fp8-e4m3-pc, "int4" = int4-g128); nullptr
// for an unknown name.
const WeightFormat* weight_format_named(std::string_view name);
// "int8-pc, fp8-e4m3-pc, ..." for messages that list what is accepted.
std::string weight_format_names();
// Bytes of a row of k elements. Throws synaptix::Error naming the format and k when k is not positive or not
// a multiple of the format's group.
int64_t weight_row_bytes(const WeightFormat& f, int64_t k);
// Storage bits per weight of a row of k elements, scales included (for tables and budgets).
double bits_per_weight(const WeightFormat& f, int64_t k);

}  // namespace synaptix::quant
