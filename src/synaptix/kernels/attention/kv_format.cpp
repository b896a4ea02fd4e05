#include "synaptix/kernels/attention/kv_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "synaptix/quant/minifloat.h"

namespace synaptix::kernels {

const char* kv_format_name(KvFormat f) {
  switch (f) {
    case KvFormat::F32: return "f32";
    case KvFormat::Bf16: return "bf16";
    case KvFormat::Int8: return "int8";
    case KvFormat::Fp8E4M3: return "fp8-e4m3";
  }
  return "?";
}

const char* kv_format_names() { return "f32, bf16, int8, fp8-e4m3"; }

KvFormat parse_kv_format(const std::string& name, const std::string& where) {
  for (KvFormat f : {KvFormat::F32, KvFormat::Bf16, KvFormat::Int8, KvFormat::Fp8E4M3})
    if (name == kv_format_name(f)) return f;
  fail(where, ": KV cache format \"", name, "\" (expected one of ", kv_format_names(), ")");
}

size_t kv_element_bytes(KvFormat f) {
  switch (f) {
    case KvFormat::F32: return 4;
    case KvFormat::Bf16: return 2;
    case KvFormat::Int8:
    case KvFormat::Fp8E4M3: return 1;
  }
  return 4;
}

int64_t kv_bytes_per_token_layer(KvFormat f, int64_t kv_heads, int64_t head_dim) {
  const int64_t scales = kv_format_has_scales(f) ? kv_heads * static_cast<int64_t>(sizeof(float)) : 0;
  return 2 * (kv_heads * head_dim * static_cast<int64_t>(kv_element_bytes(f)) + scales);
}

void kv_encode_head(KvFormat f, const float* x, int64_t head_dim, void* codes, float* scale) {
  switch (f) {
    case KvFormat::F32:
      std::memcpy(codes, x, static_cast<size_t>(head_dim) * sizeof(float));
      return;
    case KvFormat::Bf16: {
      auto* c = static_cast<uint16_t*>(codes);
      for (int64_t i = 0; i < head_dim; ++i) c[i] = f32_to_bf16(x[i]);
      return;
    }
    case KvFormat::Int8: {
      float amax = 0.0f;
      for (int64_t i = 0; i < head_dim; ++i) amax = std::max(amax, std::fabs(x[i]));
      const float s = amax / 127.0f;
      *scale = s;
      auto* c = static_cast<int8_t*>(codes);
      for (int64_t i = 0; i < head_dim; ++i) {
        const float q = s > 0 ? std::nearbyint(x[i] / s) : 0.0f;
        c[i] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
      }
      return;
    }
    case KvFormat::Fp8E4M3: {
      auto* c = static_cast<uint8_t*>(codes);
      for (int64_t i = 0; i < head_dim; ++i) c[i] = quant::f32_to_e4m3(x[i]);
      return;
    }
  }
}

float kv_decode(KvFormat f, const void* codes, int64_t i, float scale) {
  switch (f) {
    case KvFormat::F32: return static_cast<const float*>(codes)[i];
    case KvFormat::Bf16: return bf16_to_f32(static_cast<const uint16_t*>(codes)[i]);
    case KvFormat::Int8: return static_cast<float>(static_cast<const int8_t*>(codes)[i]) * scale;
    case KvFormat::Fp8E4M3: return quant::e4m3_to_f32(static_cast<const uint8_t*>(codes)[i]);
  }
  return 0.0f;
}

void kv_decode_head(KvFormat f, const void* codes, int64_t head_dim, float scale, float* out) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const auto* bytes = static_cast<const uint8_t*>(codes);
  switch (f) {
    case KvFormat::F32:
      std::memcpy(out, codes, static_cast<size_t>(head_dim) * sizeof(float));
      return;
    case KvFormat::Bf16:
      for (; i + 16 <= head_dim; i += 16) {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + 2 * i)));
        _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
      }
      break;
    case KvFormat::Int8:
      for (; i + 16 <= head_dim; i += 16) {
        const __m512i w = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + i)));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(w), _mm512_set1_ps(scale)));
      }
      break;
    case KvFormat::Fp8E4M3:
      // Sign to bit 31, exponent and mantissa to bits 20..26: the value times 2^-120 (subnormals exact as f32
      // subnormals), then times 2^120. The NaN code (only from a NaN input) keeps its own lane value.
      for (; i + 16 <= head_dim; i += 16) {
        const __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + i)));
        const __m512i bits = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(0x80)), 24),
                                             _mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(0x7F)), 20));
        __m512 v = _mm512_mul_ps(_mm512_castsi512_ps(bits), _mm512_set1_ps(0x1p120f));
        const __mmask16 nan = _mm512_cmpeq_epi32_mask(_mm512_and_si512(c, _mm512_set1_epi32(0x7F)), _mm512_set1_epi32(0x7F));
        v = _mm512_mask_blend_ps(nan, v, _mm512_set1_ps(NAN));
        _mm512_storeu_ps(out + i, v);
      }
      break;
  }
#endif
  for (; i < head_dim; ++i) out[i] = kv_decode(f, codes, i, scale);
}

}  // namespace synaptix::kernels
