#pragma once
// The element formats of the paged KV cache, and the exact (de)quantization every kernel of a format shares:
//  - f32: as computed.
//  - bf16: f32 rounded to nearest even (core/dtype.h).
//  - int8: symmetric, one f32 scale per token per KV head, set when the token is written:
//    scale = max|x| / 127 over the head's head_dim values (0 when all are 0), code = round-half-even(x / scale)
//    clamped to [-127, 127]; value = code * scale.
//  - fp8-e4m3: OFP8 E4M3 (the "FN" variant, quant/minifloat.h), unscaled, rounded to nearest even and saturated
//    to +-448. Unscaled because the rows a KV cache holds (post-norm, post-RoPE keys and values) sit well inside
//    E4M3's range, so a scale would buy nothing but a second load per key (vLLM's fp8 cache also defaults to
//    scale 1); the same bytes on the CPU and the GPU mean the CPU's quality gate speaks for the device.
//    Magnitudes below 2^-6 keep fewer bits (subnormals, steps of 2^-9): what the quality gate measures.
#include <cstddef>
#include <cstdint>
#include <string>

namespace synaptix::kernels {

enum class KvFormat : uint8_t { F32, Bf16, Int8, Fp8E4M3 };

// "f32", "bf16", "int8", "fp8-e4m3": the names recipes and flags use.
const char* kv_format_name(KvFormat f);
// The format named `name`; anything else is a synaptix::Error naming `where`, the value and the accepted list.
KvFormat parse_kv_format(const std::string& name, const std::string& where);
// "f32, bf16, int8, fp8-e4m3" for messages and help texts.
const char* kv_format_names();

// Bytes of one element, and whether the format keeps a per-(token, KV head) f32 scale beside the codes.
size_t kv_element_bytes(KvFormat f);
inline bool kv_format_has_scales(KvFormat f) { return f == KvFormat::Int8; }
// Bytes one token's K and V take in one layer (codes and scales): what sizes a KV budget.
int64_t kv_bytes_per_token_layer(KvFormat f, int64_t kv_heads, int64_t head_dim);

// One head's row of head_dim values into `codes` (head_dim elements of the format) and, for int8, *scale.
void kv_encode_head(KvFormat f, const float* x, int64_t head_dim, void* codes, float* scale);
// Element i of a head's row (the reference dequantization); scale is the row's (ignored without scales).
float kv_decode(KvFormat f, const void* codes, int64_t i, float scale);
// A whole row, vectorized where the build has AVX-512; the same values as kv_decode, bit for bit.
void kv_decode_head(KvFormat f, const void* codes, int64_t head_dim, float scale, float* out);

}  // namespace synaptix::kernels
