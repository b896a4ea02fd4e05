#include "synaptix/kernels/linear/reference.h"

#include <algorithm>
#include <array>
#include <vector>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/linear/gemm_default.h"
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

#if defined(__AVX512F__)
// How far ahead of the loads the decode GEMV prefetches, in bf16 elements per weight row (8 KB): the
// hardware prefetcher alone left a 2-thread decode at ~16 GB/s; 4-8 KB ahead reached 21-28 GB/s on the
// 2-core Xeon here (weights streamed from DRAM, 2026-12-05). Prefetching past the end is harmless.
constexpr int64_t kGemvPrefetch = 4096;
// Up to this many x rows (decode batches) the weights stream through the GEMV once; more go to the GEMM,
// whose f32 panels pay for themselves only over enough rows.
constexpr int64_t kGemvMaxRows = 16;

// Decode-sized products: 4 bf16 weight rows at a time against M <= 4 x rows, so each x load
// feeds 4 FMAs and the 4 * M accumulators are independent chains (one chain per row left the loop waiting
// on FMA latency at a third of the memory bandwidth). Each step reads one whole 64-byte line of every row.
template <int M>
void dot4_bf16_avx512(const uint16_t* w, int64_t k, const float* x, int64_t ldx, float out[4][M], bool prefetch) {
  __m512 acc[4][M];
  for (int j = 0; j < 4; ++j)
    for (int r = 0; r < M; ++r) acc[j][r] = _mm512_setzero_ps();
  auto step = [&](int64_t i) {
    __m512 wv[4];
    for (int j = 0; j < 4; ++j)
      wv[j] = _mm512_castsi512_ps(_mm512_slli_epi32(
          _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + j * k + i))), 16));
    for (int r = 0; r < M; ++r) {
      const __m512 xv = _mm512_loadu_ps(x + r * ldx + i);
      for (int j = 0; j < 4; ++j) acc[j][r] = _mm512_fmadd_ps(wv[j], xv, acc[j][r]);
    }
  };
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    if (prefetch)
      for (int j = 0; j < 4; ++j)
        _mm_prefetch(reinterpret_cast<const char*>(w + j * k + i + kGemvPrefetch), _MM_HINT_T0);
    step(i);
    step(i + 16);
  }
  for (; i + 16 <= k; i += 16) step(i);
  for (int j = 0; j < 4; ++j)
    for (int r = 0; r < M; ++r) {
      float s = _mm512_reduce_add_ps(acc[j][r]);
      for (int64_t t = i; t < k; ++t) s += bf16_to_f32(w[j * k + t]) * x[r * ldx + t];
      out[j][r] = s;
    }
}

// Rows x[m0, m0 + M) against weight rows [n, n + 4).
template <int M>
void gemv_bf16_group(const LinearArgs& a, int64_t m0, int64_t n, bool prefetch) {
  float out[4][M];
  dot4_bf16_avx512<M>(static_cast<const uint16_t*>(a.w) + n * a.k, a.k, a.x + m0 * a.k, a.k, out, prefetch);
  for (int j = 0; j < 4; ++j)
    for (int r = 0; r < M; ++r) a.y[(m0 + r) * a.n + n + j] = out[j][r] + (a.bias ? a.bias[n + j] : 0.0f);
}

// Weight rows [nb, ne) against every x row: each group of 4 weight rows is read from memory once (with the
// prefetch) and applied to the x rows 4 at a time while it sits in L1.
void gemv_bf16_rows(const LinearArgs& a, int64_t nb, int64_t ne) {
  const auto* w = static_cast<const uint16_t*>(a.w);
  int64_t n = nb;
  for (; n + 4 <= ne; n += 4)
    for (int64_t m0 = 0; m0 < a.m; m0 += 4) {
      const bool first = m0 == 0;
      switch (std::min<int64_t>(4, a.m - m0)) {
        case 4: gemv_bf16_group<4>(a, m0, n, first); break;
        case 3: gemv_bf16_group<3>(a, m0, n, first); break;
        case 2: gemv_bf16_group<2>(a, m0, n, first); break;
        default: gemv_bf16_group<1>(a, m0, n, first); break;
      }
    }
  for (; n < ne; ++n)
    for (int64_t r = 0; r < a.m; ++r) {
      float o;
      dot_rows_bf16<1>(w + n * a.k, a.x + r * a.k, a.k, a.k, &o);
      a.y[r * a.n + n] = o + (a.bias ? a.bias[n] : 0.0f);
    }
}
#endif

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
#if defined(__AVX512F__)
  if (a.w_dtype == DType::BF16 && a.m <= kGemvMaxRows) {
    // Chunks of whole 4-row groups, enough of them to feed every thread.
    const size_t groups = static_cast<size_t>((a.n + 3) / 4);
    ThreadPool::global().parallel_for(groups, [&](size_t gb, size_t ge) {
      gemv_bf16_rows(a, static_cast<int64_t>(gb) * 4, std::min<int64_t>(a.n, static_cast<int64_t>(ge) * 4));
    }, 8);
    return;
  }
  if (a.m >= 8 && gemm_default_applies(a)) return gemm_default(a);  // prefill-sized: register-blocked GEMM
#endif
  // Parallel over output rows: each thread streams its slice of W once and applies every weight row to all
  // m rows of x, 4 at a time so that one weight load feeds 4 FMAs. For m up to a few hundred the x rows
  // stay in L2 while W streams from memory.
  constexpr int R = 4;
  // Chunks of at least ~16 KiB of weights per x row (a fixed 4096 rows left decode GEMVs on one thread).
  const auto elem = static_cast<int64_t>(std::max<size_t>(dtype_size(a.w_dtype), 1));
  const int64_t row_work = a.k * elem * std::max<int64_t>(a.m, 1);
  const size_t grain = static_cast<size_t>(std::max<int64_t>(4, (16 << 10) / std::max<int64_t>(row_work, 1)));
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

void linear_default_multi(std::span<const LinearArgs> parts) {
  const auto blocks = [](const LinearArgs& a) { return is_block_dtype(a.w_dtype); };
  if (!parts.empty() && std::all_of(parts.begin(), parts.end(), blocks)) return linear_quant_default_multi(parts);
#if defined(__AVX512F__)
  constexpr size_t kMaxParts = 8;
  bool fused = !parts.empty() && parts.size() <= kMaxParts;
  for (const LinearArgs& a : parts) fused = fused && a.w_dtype == DType::BF16 && a.m >= 1 && a.m <= kGemvMaxRows;
  if (fused) {
    for (const LinearArgs& a : parts) check(a);
    // Groups of 4 weight rows numbered across the parts: part p owns [first[p], first[p + 1]).
    std::array<size_t, kMaxParts + 1> first{};  // no allocation in the decode step
    for (size_t p = 0; p < parts.size(); ++p) first[p + 1] = first[p] + static_cast<size_t>((parts[p].n + 3) / 4);
    ThreadPool::global().parallel_for(first[parts.size()], [&](size_t gb, size_t ge) {
      for (size_t p = 0; p < parts.size(); ++p) {
        const size_t b = std::max(gb, first[p]), e = std::min(ge, first[p + 1]);
        if (b >= e) continue;
        const LinearArgs& a = parts[p];
        const auto lo = static_cast<int64_t>(b - first[p]) * 4, hi = static_cast<int64_t>(e - first[p]) * 4;
        gemv_bf16_rows(a, lo, std::min<int64_t>(a.n, hi));
      }
    }, 8);
    return;
  }
#endif
  for (const LinearArgs& a : parts) linear_default(a);
}

}  // namespace synaptix::kernels
