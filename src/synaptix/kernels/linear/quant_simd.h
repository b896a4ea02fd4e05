#pragma once
// The vector layer of the block-weight linear defaults (quant_default.cpp, quant_format_rows.h): vec of kLanes
// floats with AVX-512 or AVX2+FMA, whichever the build targets (SYNAPTIX_QUANT_SIMD undefined without
// either), and the expansions of packed codes into float vectors: 16 bytes of nibbles (elements 0..15 low,
// 16..31 high) minus a bias, int8s, E4M3 bytes and E2M1 nibbles. Internal to kernels/linear.
#include <cstdint>
#include <cstring>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "synaptix/core/dtype.h"

namespace synaptix::kernels::quant_simd {

inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return f16_to_f32(h);
#endif
}

// E8M0's 2^(x - 127) from its bits (x = 0 is the subnormal 2^-127, 255 NaN).
inline float e8m0_value(uint8_t x) {
  const uint32_t bits = x == 0xFF ? 0x7FC00000u : x == 0 ? 0x00400000u : static_cast<uint32_t>(x) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// The signed E2M1 values of the 16 codes (sign in bit 3).
inline constexpr float kE2M1Table[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};

#if defined(__AVX512F__)
#define SYNAPTIX_QUANT_SIMD 1
using vec = __m512;
constexpr int kLanes = 16;
inline vec vzero() { return _mm512_setzero_ps(); }
inline vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vec v) { _mm512_storeu_ps(p, v); }
inline vec vset1(float v) { return _mm512_set1_ps(v); }
inline vec vmul(vec a, vec b) { return _mm512_mul_ps(a, b); }
inline vec vadd(vec a, vec b) { return _mm512_add_ps(a, b); }
inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float vsum(vec v) { return _mm512_reduce_add_ps(v); }
// 16 bytes of packed nibbles: elements 0..15 are the low nibbles, 16..31 the high ones. vpermps reads only
// the low 4 bits of each index lane, so the zero-extended bytes index a table of the 16 codes minus the bias
// as floats directly (the low nibble), and again after a shift (the high one): no masks, no subtractions, no
// int-to-float conversions (4 vector operations a block instead of 6; the decode GEMV is compute-bound here).
inline void nibbles(const uint8_t* qs, int bias, vec q[2]) {
  const __m512 table = _mm512_sub_ps(_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_ps(static_cast<float>(bias)));
  const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  q[0] = _mm512_permutexvar_ps(bytes, table);
  q[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), table);
}
inline void int8s(const uint8_t* qs, vec q[2]) {
  for (int v = 0; v < 2; ++v)
    q[v] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * v))));
}
// E4M3 bytes: sign to bit 31, exponent and mantissa to bits 20..26, so the f32 is the value times 2^-120
// (subnormals land on f32 subnormals exactly), then times 2^120. The NaN code is not produced by quantizers.
inline vec e4m3_from_bytes(__m512i c) {
  const __m512i bits = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(0x80)), 24),
                                       _mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(0x7F)), 20));
  return _mm512_mul_ps(_mm512_castsi512_ps(bits), _mm512_set1_ps(0x1p120f));
}
inline void fp8s(const uint8_t* qs, vec q[2]) {
  for (int v = 0; v < 2; ++v)
    q[v] = e4m3_from_bytes(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * v))));
}
// 16 bytes of E2M1 nibbles in nibble order.
inline void e2m1s(const uint8_t* qs, vec q[2]) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), mask = _mm_set1_epi8(0x0F);
  const __m512 table = _mm512_loadu_ps(kE2M1Table);
  q[0] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_and_si128(raw, mask)), table);
  q[1] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(raw, 4), mask)), table);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define SYNAPTIX_QUANT_SIMD 1
using vec = __m256;
constexpr int kLanes = 8;
inline vec vzero() { return _mm256_setzero_ps(); }
inline vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vec v) { _mm256_storeu_ps(p, v); }
inline vec vset1(float v) { return _mm256_set1_ps(v); }
inline vec vmul(vec a, vec b) { return _mm256_mul_ps(a, b); }
inline vec vadd(vec a, vec b) { return _mm256_add_ps(a, b); }
inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(vec v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_hadd_ps(s, s);
  s = _mm_hadd_ps(s, s);
  return _mm_cvtss_f32(s);
}
inline void nibbles(const uint8_t* qs, int bias, vec q[4]) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
  const __m256i b = _mm256_set1_epi32(bias);
  q[0] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(lo), b));
  q[1] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), b));
  q[2] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(hi), b));
  q[3] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), b));
}
inline void int8s(const uint8_t* qs, vec q[4]) {
  for (int v = 0; v < 4; ++v)
    q[v] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 8 * v))));
}
inline vec e4m3_from_bytes(__m256i c) {
  const __m256i bits = _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x80)), 24),
                                       _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x7F)), 20));
  return _mm256_mul_ps(_mm256_castsi256_ps(bits), _mm256_set1_ps(0x1p120f));
}
inline void fp8s(const uint8_t* qs, vec q[4]) {
  for (int v = 0; v < 4; ++v)
    q[v] = e4m3_from_bytes(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 8 * v))));
}
// E2M1 nibbles: the magnitude from an 8-entry table, the sign bit moved to bit 31.
inline vec e2m1_from_codes(__m256i c) {
  const __m256 mag = _mm256_permutevar8x32_ps(_mm256_loadu_ps(kE2M1Table), _mm256_and_si256(c, _mm256_set1_epi32(7)));
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(8)), 28);
  return _mm256_or_ps(mag, _mm256_castsi256_ps(sign));
}
inline void e2m1s(const uint8_t* qs, vec q[4]) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)), mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
  q[0] = e2m1_from_codes(_mm256_cvtepu8_epi32(lo));
  q[1] = e2m1_from_codes(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
  q[2] = e2m1_from_codes(_mm256_cvtepu8_epi32(hi));
  q[3] = e2m1_from_codes(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}
#endif

#if defined(SYNAPTIX_QUANT_SIMD)
constexpr int kVecs = 32 / kLanes;  // vectors of one 32-element unit
#endif

}  // namespace synaptix::kernels::quant_simd
