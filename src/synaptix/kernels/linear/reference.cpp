#include "synaptix/kernels/linear/reference.h"

#include <algorithm>
#include <vector>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/linear/quant_default.h"
#include "synaptix/kernels/linear/quant_reference.h"

namespace synaptix::kernels {

namespace {

inline float weight_at(const void* w, DType t, int64_t i) {
  switch (t) {
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(w)[i]);
    default: return static_cast<const float*>(w)[i];
  }
}

// Dot products of one bf16 weight row with R rows of x, sharing each weight load across the R rows.
template <int R>
void dot_rows_bf16(const uint16_t* w, const float* x, int64_t ldx, int64_t k, float* out) {
  int64_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (; i + 8 <= k; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i));
    __m256 wf = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(wf, _mm256_loadu_ps(x + r * ldx + i), acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[r]), _mm256_extractf128_ps(acc[r], 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    out[r] = _mm_cvtss_f32(s);
  }
#else
  for (int r = 0; r < R; ++r) out[r] = 0.0f;
#endif
  for (; i < k; ++i) {
    float wv = bf16_to_f32(w[i]);
    for (int r = 0; r < R; ++r) out[r] += wv * x[r * ldx + i];
  }
}

template <int R>
void dot_rows_generic(const void* w, DType t, int64_t row, const float* x, int64_t ldx, int64_t k, float* out) {
  float acc[R] = {};
  for (int64_t i = 0; i < k; ++i) {
    float wv = weight_at(w, t, row * k + i);
    for (int r = 0; r < R; ++r) acc[r] += wv * x[r * ldx + i];
  }
  for (int r = 0; r < R; ++r) out[r] = acc[r];
}

void check(const LinearArgs& a) {
  if (a.w_dtype != DType::F32 && a.w_dtype != DType::BF16 && a.w_dtype != DType::F16)
    fail("linear: weight dtype ", dtype_name(a.w_dtype), " is not supported (expected f32, bf16 or f16)");
}

}  // namespace

void linear_reference(const LinearArgs& a) {
  if (is_block_dtype(a.w_dtype)) return linear_quant_reference(a);  // GGUF blocks: quant_reference.h
  check(a);
  for (int64_t m = 0; m < a.m; ++m)
    for (int64_t n = 0; n < a.n; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < a.k; ++k) acc += a.x[m * a.k + k] * weight_at(a.w, a.w_dtype, n * a.k + k);
      a.y[m * a.n + n] = acc + (a.bias ? a.bias[n] : 0.0f);
    }
}

void linear_default(const LinearArgs& a) {
  if (is_block_dtype(a.w_dtype)) return linear_quant_default(a);  // GGUF blocks: quant_default.h
  check(a);
  // Parallel over output rows: each thread streams its slice of W once and applies every weight row to all
  // m rows of x, 4 at a time so that one weight load feeds 4 FMAs. For m up to a few hundred the x rows
  // stay in L2 while W streams from memory.
  constexpr int R = 4;
  const size_t grain = static_cast<size_t>(std::max<int64_t>(16, 4096 / std::max<int64_t>(a.m, 1)));
  ThreadPool::global().parallel_for(static_cast<size_t>(a.n), [&](size_t nb, size_t ne) {
    float out[R];
    for (size_t n = nb; n < ne; ++n) {
      const int64_t row = static_cast<int64_t>(n);
      int64_t m = 0;
      for (; m + R <= a.m; m += R) {
        if (a.w_dtype == DType::BF16)
          dot_rows_bf16<R>(static_cast<const uint16_t*>(a.w) + row * a.k, a.x + m * a.k, a.k, a.k, out);
        else
          dot_rows_generic<R>(a.w, a.w_dtype, row, a.x + m * a.k, a.k, a.k, out);
        for (int r = 0; r < R; ++r) a.y[(m + r) * a.n + row] = out[r] + (a.bias ? a.bias[row] : 0.0f);
      }
      for (; m < a.m; ++m) {
        if (a.w_dtype == DType::BF16)
          dot_rows_bf16<1>(static_cast<const uint16_t*>(a.w) + row * a.k, a.x + m * a.k, a.k, a.k, out);
        else
          dot_rows_generic<1>(a.w, a.w_dtype, row, a.x + m * a.k, a.k, a.k, out);
        a.y[m * a.n + row] = out[0] + (a.bias ? a.bias[row] : 0.0f);
      }
    }
  }, grain);
}

}  // namespace synaptix::kernels
