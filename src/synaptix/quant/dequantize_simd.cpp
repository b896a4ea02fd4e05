#include "synaptix/quant/dequantize_simd.h"

#include <cstring>
#if defined(__AVX512F__) && defined(__F16C__)
#include <immintrin.h>
#endif

#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"

// GCC 12 reports the _mm512_undefined_* operands inside its own AVX-512 conversion intrinsics as maybe
// uninitialized; they are don't-care inputs of unmasked instructions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace synaptix::quant {

namespace {

#if defined(__AVX512F__) && defined(__F16C__)
inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline __m512 bytes_f32(__m128i b) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)); }

// Q5_0 / Q5_1: d (, m), qh (bit j: fifth bit of element j), 16 bytes of nibbles (low: 0..15, high: 16..31).
template <bool kMin>
void q5(const uint8_t* b, float* y) {
  const float d = half_at(b), m = kMin ? half_at(b + 2) : -16.0f * d;
  uint32_t qh;
  std::memcpy(&qh, b + (kMin ? 4 : 2), 4);
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + (kMin ? 8 : 6)));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m512i sixteen = _mm512_set1_epi32(16);
  __m512i lo = _mm512_cvtepu8_epi32(_mm_and_si128(raw, mask));
  __m512i hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(raw, 4), mask));
  lo = _mm512_mask_add_epi32(lo, static_cast<__mmask16>(qh & 0xFFFF), lo, sixteen);
  hi = _mm512_mask_add_epi32(hi, static_cast<__mmask16>(qh >> 16), hi, sixteen);
  const __m512 vd = _mm512_set1_ps(d), vm = _mm512_set1_ps(m);
  _mm512_storeu_ps(y, _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), vd, vm));
  _mm512_storeu_ps(y + 16, _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), vd, vm));
}

// Q4_K: d, dmin, 12 bytes of packed 6-bit scales and mins, qs[128]; element 64c + 32k + l is nibble k of
// qs[32c + l] in sub-block 2c + k.
void q4_k(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* s = b + 4;
  const uint8_t* qs = b + 16;
  const __m128i mask = _mm_set1_epi8(0x0F);
  for (int j = 0; j < 8; ++j) {
    int scale, min;
    if (j < 4) {
      scale = s[j] & 63, min = s[j + 4] & 63;
    } else {
      scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
    const __m512 vd = _mm512_set1_ps(d * static_cast<float>(scale)), vm = _mm512_set1_ps(-dmin * static_cast<float>(min));
    for (int half = 0; half < 2; ++half) {
      __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 32 * (j / 2) + 16 * half));
      if (j % 2) q = _mm_srli_epi16(q, 4);
      _mm512_storeu_ps(y + 32 * j + 16 * half, _mm512_fmadd_ps(bytes_f32(_mm_and_si128(q, mask)), vd, vm));
    }
  }
}

// Q6_K: ql[128], qh[64], int8 scales[16], d. Element e = 128h + r: low 4 bits nibble r / 64 of
// ql[64h + r % 64], high 2 bits at 2 (r / 32) of qh[32h + r % 32]; value (q - 32) d scales[e / 16].
void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half_at(b + 208);
  const __m128i low_mask = _mm_set1_epi8(0x0F), high_mask = _mm_set1_epi8(3);
  const __m512i bias = _mm512_set1_epi32(32);
  for (int e = 0; e < 256; e += 16) {
    const int h = e / 128, r = e % 128;
    const __m128i l = _mm_srl_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + 64 * h + r % 64)),
                                    _mm_cvtsi32_si128(4 * (r / 64)));
    const __m128i hb = _mm_srl_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + 32 * h + r % 32)),
                                     _mm_cvtsi32_si128(2 * (r / 32)));
    const __m128i q = _mm_or_si128(_mm_and_si128(l, low_mask), _mm_slli_epi16(_mm_and_si128(hb, high_mask), 4));
    const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(q), bias));
    _mm512_storeu_ps(y + e, _mm512_mul_ps(v, _mm512_set1_ps(d * static_cast<float>(scales[e / 16]))));
  }
}
#endif

}  // namespace

bool has_fast_dequantize(DType t) {
#if defined(__AVX512F__) && defined(__F16C__)
  return t == DType::Q5_0 || t == DType::Q5_1 || t == DType::Q4_K || t == DType::Q6_K;
#else
  (void)t;
  return false;
#endif
}

void dequantize_rows_fast(DType t, const uint8_t* src, int64_t elems, float* dst) {
  const BlockFormat& f = *block_format(t);
#if defined(__AVX512F__) && defined(__F16C__)
  void (*block)(const uint8_t*, float*) = t == DType::Q5_0   ? q5<false>
                                          : t == DType::Q5_1 ? q5<true>
                                          : t == DType::Q4_K ? q4_k
                                          : t == DType::Q6_K ? q6_k
                                                             : nullptr;
  if (block) {
    for (int64_t i = 0; i < elems / f.block_elems; ++i) block(src + i * f.block_bytes, dst + i * f.block_elems);
    return;
  }
#endif
  dequantize_f32(f, src, elems, dst);
}

}  // namespace synaptix::quant
