#include "synaptix/kernels/linear/gemm_default.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"

namespace synaptix::kernels {

#if defined(__AVX512F__)
namespace {

constexpr int kNr = 32;   // outputs per panel: two 16-float vectors
constexpr int kMr = 12;   // x rows per micro-tile: 24 accumulators + 2 panel vectors + 1 broadcast

// Panel[kk * 32 + j] = W[n0 + j, kk] as f32, zero for rows past n. Gathers 16 rows at once: one 32-bit
// gather of bf16/f16 weights yields two consecutive k of each row (a scalar transpose cost as much as the
// products of a 128-row prefill).
void pack_half(const LinearArgs& a, int64_t n0, int64_t j0, float* panel) {
  const int64_t k = a.k, rows = std::clamp<int64_t>(a.n - n0 - j0, 0, 16);
  const __mmask16 valid = static_cast<__mmask16>(rows >= 16 ? 0xffff : (1u << rows) - 1);
  const __m512i row_words = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                               _mm512_set1_epi32(static_cast<int>(k)));  // row offsets in elements
  const __m512 zero = _mm512_setzero_ps();
  float* dst = panel + j0;
  if (a.w_dtype == DType::F32) {
    const float* w = static_cast<const float*>(a.w) + (n0 + j0) * k;
    for (int64_t kk = 0; kk < k; ++kk)
      _mm512_storeu_ps(dst + kk * kNr, _mm512_mask_i32gather_ps(zero, valid, row_words, w + kk, 4));
    return;
  }
  const uint16_t* w = static_cast<const uint16_t*>(a.w) + (n0 + j0) * k;
  const bool bf16 = a.w_dtype == DType::BF16;
  int64_t kk = 0;
  if (k % 2 == 0)  // two k per gather needs every row to start on a 4-byte boundary
    for (; kk + 2 <= k; kk += 2) {
      const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, row_words, w + kk, 2);
      __m512 lo, hi;
      if (bf16) {
        lo = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
        hi = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
      } else {
        lo = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
        hi = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
      }
      _mm512_storeu_ps(dst + kk * kNr, lo);
      _mm512_storeu_ps(dst + (kk + 1) * kNr, hi);
    }
  for (; kk < k; ++kk)
    for (int64_t j = 0; j < 16; ++j)
      dst[kk * kNr + j] = j >= rows ? 0.0f : bf16 ? bf16_to_f32(w[j * k + kk]) : f16_to_f32(w[j * k + kk]);
}

void pack_panel(const LinearArgs& a, int64_t n0, float* panel) {
  pack_half(a, n0, 0, panel);
  pack_half(a, n0, 16, panel);
}

template <int MR>
void micro(const float* x, int64_t k, const float* panel, float* y, int64_t ldy, __mmask16 m0, __mmask16 m1,
           const float* bias32) {
  const __m512 b0 = _mm512_loadu_ps(bias32), b1 = _mm512_loadu_ps(bias32 + 16);
  __m512 c0[MR], c1[MR];
  for (int i = 0; i < MR; ++i) c0[i] = b0, c1[i] = b1;  // start from the bias
  for (int64_t kk = 0; kk < k; ++kk) {
    const __m512 w0 = _mm512_loadu_ps(panel + kk * kNr), w1 = _mm512_loadu_ps(panel + kk * kNr + 16);
    for (int i = 0; i < MR; ++i) {
      const __m512 xv = _mm512_set1_ps(x[i * k + kk]);
      c0[i] = _mm512_fmadd_ps(xv, w0, c0[i]);
      c1[i] = _mm512_fmadd_ps(xv, w1, c1[i]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    _mm512_mask_storeu_ps(y + i * ldy, m0, c0[i]);
    _mm512_mask_storeu_ps(y + i * ldy + 16, m1, c1[i]);
  }
}

using MicroFn = void (*)(const float*, int64_t, const float*, float*, int64_t, __mmask16, __mmask16, const float*);

template <int... I>
constexpr auto micro_table(std::integer_sequence<int, I...>) {
  return std::array<MicroFn, sizeof...(I)>{&micro<I + 1>...};
}
constexpr auto kMicro = micro_table(std::make_integer_sequence<int, kMr>{});

void panel_rows(const LinearArgs& a, int64_t n0, const float* panel, int64_t mb, int64_t me) {
  const int64_t valid = std::min<int64_t>(kNr, a.n - n0);
  const __mmask16 m0 = static_cast<__mmask16>(valid >= 16 ? 0xffff : (1u << valid) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(valid >= 32 ? 0xffff : valid <= 16 ? 0 : (1u << (valid - 16)) - 1);
  float bias32[kNr] = {};
  if (a.bias) std::copy_n(a.bias + n0, valid, bias32);
  for (int64_t m = mb; m < me; m += kMr) {
    const int mr = static_cast<int>(std::min<int64_t>(kMr, me - m));
    kMicro[static_cast<size_t>(mr - 1)](a.x + m * a.k, a.k, panel, a.y + m * a.n + n0, a.n, m0, m1, bias32);
  }
}

}  // namespace

bool gemm_default_applies(const LinearArgs& a) {
  return a.w_dtype == DType::BF16 || a.w_dtype == DType::F16 || a.w_dtype == DType::F32;
}

void gemm_default(const LinearArgs& a) {
  if (!gemm_default_applies(a)) fail("gemm_default: weight dtype ", dtype_name(a.w_dtype), " is not bf16, f16 or f32");
  const size_t panels = static_cast<size_t>((a.n + kNr - 1) / kNr);
  ThreadPool::global().parallel_for(panels, [&](size_t pb, size_t pe) {
    // One panel buffer per task, reused for every panel it packs (k * 32 floats: 192 KiB at k = 1536).
    thread_local std::vector<float> panel;
    panel.resize(static_cast<size_t>(a.k * kNr));
    for (size_t p = pb; p < pe; ++p) {
      const int64_t n0 = static_cast<int64_t>(p) * kNr;
      pack_panel(a, n0, panel.data());
      panel_rows(a, n0, panel.data(), 0, a.m);
    }
  });
}

#else

bool gemm_default_applies(const LinearArgs&) { return false; }
void gemm_default(const LinearArgs&) { fail("gemm_default: this build has no AVX-512 (compile with -march=native)"); }

#endif

}  // namespace synaptix::kernels
