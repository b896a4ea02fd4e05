#pragma once
// GGUF / ggml tensor element types as data: the type id written in a GGUF tensor info, its name, and how its
// elements are packed (elements per block, bytes per block). Scalar types are blocks of one element.
// Layouts follow ggml's ggml-common.h; every type listed here has a reference dequantizer (dequantize.h).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synaptix::quant {

// The ggml type ids (stable across GGUF versions). Only the types we can dequantize are named.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

struct BlockFormat {
  GgmlType type;
  std::string_view name;  // as ggml and gguf-py spell it: "Q4_K"
  int64_t block_elems;    // elements per block (1 for scalar types)
  int64_t block_bytes;    // bytes per block
};

// The format of a type id we can dequantize; nullptr for any other id.
const BlockFormat* find_format(uint32_t type_id);
const BlockFormat& format_of(GgmlType t);

// A name for any ggml type id, including the ones we cannot dequantize ("IQ2_XXS", "I32"); "unknown" for ids
// ggml never assigned. For error messages.
std::string_view ggml_type_name(uint32_t type_id);

// "F32, F16, BF16, Q4_0, ..." for messages that list what is accepted.
std::string supported_type_names();

// Bytes of `elems` elements of `f`, or nullopt when elems is not a whole number of blocks or the size
// overflows int64.
std::optional<int64_t> packed_bytes(const BlockFormat& f, int64_t elems);

}  // namespace synaptix::quant
