#include "synaptix/kernels/linear/quant_default.h"

// GCC 12 reports the _mm512_undefined_* operands inside its own AVX-512 intrinsics (conversions, the
// reductions' extracts) as (maybe) uninitialized; they are don't-care inputs of unmasked instructions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <vector>

#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/linear/quant_formats.h"
#include "synaptix/kernels/linear/quant_reference.h"
#include "synaptix/kernels/linear/quant_simd.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/dequantize.h"
#include "synaptix/quant/dequantize_simd.h"

namespace synaptix::kernels {

namespace {

using namespace quant_simd;

constexpr int64_t kQK = 32;  // elements of a Q4_0 / Q4_1 / Q8_0 block

constexpr bool is_legacy(DType t) { return t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q8_0; }
constexpr int64_t legacy_block_bytes(DType t) { return t == DType::Q4_0 ? 18 : t == DType::Q4_1 ? 20 : 34; }

#if defined(SYNAPTIX_QUANT_SIMD)

// One legacy block as integers q (w = d * q + m) in kVecs vectors.
template <DType T>
inline void decode(const uint8_t* b, vec q[kVecs], float* d, float* m) {
  *d = half_at(b);
  if constexpr (T == DType::Q8_0) {
    *m = 0.0f;
    int8s(b + 2, q);
  } else if constexpr (T == DType::Q4_1) {
    *m = half_at(b + 2);
    nibbles(b + 4, 0, q);
  } else {
    *m = 0.0f;
    nibbles(b + 2, 8, q);
  }
}

// out[j * R + r] = W row j . x row r for NT consecutive W rows (rb bytes apart) and R rows of x (stride
// ldx); sx[r * nb + b] is the sum of x row r over block b (read for Q4_1 only). Two W rows per pass give the
// core two independent decode-and-FMA chains per x load.
template <DType T, int R, int NT>
void dot_blocks(const uint8_t* w, int64_t rb, int64_t nb, const float* x, int64_t ldx, const float* sx,
                float* out) {
  vec acc[NT][R];
  float off[NT][R];
  for (int j = 0; j < NT; ++j)
    for (int r = 0; r < R; ++r) acc[j][r] = vzero(), off[j][r] = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    for (int j = 0; j < NT; ++j) {
      vec q[kVecs];
      float d, m;
      decode<T>(w + j * rb + b * legacy_block_bytes(T), q, &d, &m);
      const vec vd = vset1(d);
      for (int r = 0; r < R; ++r) {
        const float* xb = x + r * ldx + b * kQK;
        vec t = vmul(q[0], vload(xb));
        for (int v = 1; v < kVecs; ++v) t = vfma(q[v], vload(xb + v * kLanes), t);
        acc[j][r] = vfma(vd, t, acc[j][r]);
        if constexpr (T == DType::Q4_1) off[j][r] += m * sx[r * nb + b];
      }
    }
  }
  for (int j = 0; j < NT; ++j)
    for (int r = 0; r < R; ++r) out[j * R + r] = vsum(acc[j][r]) + off[j][r];
}

template <DType T>
void dequantize_row_simd(const uint8_t* w, int64_t nb, float* dst) {
  for (int64_t b = 0; b < nb; ++b) {
    vec q[kVecs];
    float d, m;
    decode<T>(w + b * legacy_block_bytes(T), q, &d, &m);
    const vec vd = vset1(d), vm = vset1(m);
    for (int v = 0; v < kVecs; ++v) vstore(dst + b * kQK + v * kLanes, vfma(vd, q[v], vm));
  }
}
#endif

void dequantize_row(DType t, const uint8_t* w, int64_t k, float* dst) {
  if (is_weight_format_dtype(t)) return dequantize_weight_format_row(t, w, k, dst);
#if defined(SYNAPTIX_QUANT_SIMD)
  switch (t) {
    case DType::Q4_0: return dequantize_row_simd<DType::Q4_0>(w, k / kQK, dst);
    case DType::Q4_1: return dequantize_row_simd<DType::Q4_1>(w, k / kQK, dst);
    case DType::Q8_0: return dequantize_row_simd<DType::Q8_0>(w, k / kQK, dst);
    default: break;
  }
#endif
  if (quant::has_fast_dequantize(t)) return quant::dequantize_rows_fast(t, w, k, dst);
  quant::dequantize_f32(*quant::block_format(t), w, k, dst);
}

// out[r][j] = W row j . x row r (f32) for an MR x NR register tile: each loaded vector feeds MR or NR FMAs.
// W and x rows are k apart; the last k % kLanes columns (per-channel weight formats) are summed in scalar.
template <int MR, int NR>
void tile_f32(const float* w, const float* x, int64_t k, float out[4][4]) {
#if defined(SYNAPTIX_QUANT_SIMD)
  vec acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) acc[r][j] = vzero();
  const int64_t kv = k - k % kLanes;
  for (int64_t i = 0; i < kv; i += kLanes) {
    vec wv[NR];
    for (int j = 0; j < NR; ++j) wv[j] = vload(w + j * k + i);
    for (int r = 0; r < MR; ++r) {
      const vec xv = vload(x + r * k + i);
      for (int j = 0; j < NR; ++j) acc[r][j] = vfma(wv[j], xv, acc[r][j]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) out[r][j] = vsum(acc[r][j]);
  // The tail in a separate pass: summed inside the loop above, it kept the accumulators on the stack (every
  // iteration stored all MR x NR of them; Q4_1 prefill ran at 1/3 of the speed).
  if (kv < k)
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NR; ++j)
        for (int64_t i = kv; i < k; ++i) out[r][j] += w[j * k + i] * x[r * k + i];
#else
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) {
      float s = 0.0f;
      for (int64_t i = 0; i < k; ++i) s += w[j * k + i] * x[r * k + i];
      out[r][j] = s;
    }
#endif
}

template <int MR>
void tile_mr(int nr, const float* w, const float* x, int64_t k, float out[4][4]) {
  switch (nr) {
    case 1: return tile_f32<MR, 1>(w, x, k, out);
    case 2: return tile_f32<MR, 2>(w, x, k, out);
    case 3: return tile_f32<MR, 3>(w, x, k, out);
    default: return tile_f32<MR, 4>(w, x, k, out);
  }
}

void tile_any(int mr, int nr, const float* w, const float* x, int64_t k, float out[4][4]) {
  switch (mr) {
    case 1: return tile_mr<1>(nr, w, x, k, out);
    case 2: return tile_mr<2>(nr, w, x, k, out);
    case 3: return tile_mr<3>(nr, w, x, k, out);
    default: return tile_mr<4>(nr, w, x, k, out);
  }
}

// Rows [n0, n1) of W, kPanel at a time dequantized into an f32 panel (16 rows of k: 36-96 KiB for k of
// 576-1536, in L2), then 4 x rows by 4 W rows register tiles over it: x streams once per panel, not per row.
void rows_via_f32(const LinearArgs& a, int64_t rb, size_t n0, size_t n1) {
  constexpr int64_t kPanel = 16;
  std::vector<float> panel(static_cast<size_t>(kPanel * a.k));
  float out[4][4];
  for (int64_t p0 = static_cast<int64_t>(n0); p0 < static_cast<int64_t>(n1); p0 += kPanel) {
    const int64_t np = std::min<int64_t>(kPanel, static_cast<int64_t>(n1) - p0);
    for (int64_t j = 0; j < np; ++j)
      dequantize_row(a.w_dtype, static_cast<const uint8_t*>(a.w) + (p0 + j) * rb, a.k, panel.data() + j * a.k);
    for (int64_t m = 0; m < a.m; m += 4) {
      const int mr = static_cast<int>(std::min<int64_t>(4, a.m - m));
      for (int64_t j = 0; j < np; j += 4) {
        const int nr = static_cast<int>(std::min<int64_t>(4, np - j));
        tile_any(mr, nr, panel.data() + j * a.k, a.x + m * a.k, a.k, out);
        for (int r = 0; r < mr; ++r)
          for (int c = 0; c < nr; ++c) {
            const int64_t n = p0 + j + c;
            a.y[(m + r) * a.n + n] = out[r][c] + (a.bias ? a.bias[n] : 0.0f);
          }
      }
    }
  }
}

#if defined(SYNAPTIX_QUANT_SIMD)
template <DType T, int R>
void rows_fused_r(const LinearArgs& a, const float* sx, int64_t rb, size_t n0, size_t n1) {
  const int64_t nb = a.k / kQK;
  const auto* w = static_cast<const uint8_t*>(a.w);
  float out[2 * R];
  auto store = [&](int64_t n, const float* o) {
    for (int r = 0; r < R; ++r) a.y[r * a.n + n] = o[r] + (a.bias ? a.bias[n] : 0.0f);
  };
  int64_t n = static_cast<int64_t>(n0);
  for (; n + 2 <= static_cast<int64_t>(n1); n += 2) {
    dot_blocks<T, R, 2>(w + n * rb, rb, nb, a.x, a.k, sx, out);
    store(n, out);
    store(n + 1, out + R);
  }
  if (n < static_cast<int64_t>(n1)) {
    dot_blocks<T, R, 1>(w + n * rb, rb, nb, a.x, a.k, sx, out);
    store(n, out);
  }
}

template <DType T>
void rows_fused(const LinearArgs& a, const float* sx, int64_t rb, size_t n0, size_t n1) {
  switch (a.m) {
    case 1: return rows_fused_r<T, 1>(a, sx, rb, n0, n1);
    case 2: return rows_fused_r<T, 2>(a, sx, rb, n0, n1);
    case 3: return rows_fused_r<T, 3>(a, sx, rb, n0, n1);
    default: return rows_fused_r<T, 4>(a, sx, rb, n0, n1);
  }
}
#endif

}  // namespace

namespace {

// Whether the legacy-block decode path takes these parts together: Q4_0 / Q4_1 / Q8_0 weights, 1 to 4 rows
// of one x.
bool legacy_decode(std::span<const LinearArgs> parts) {
#if defined(SYNAPTIX_QUANT_SIMD)
  if (parts.empty() || parts.size() > 8) return false;
  for (const LinearArgs& a : parts)
    if (!is_legacy(a.w_dtype) || a.m < 1 || a.m > 4 || a.x != parts[0].x || a.m != parts[0].m || a.k != parts[0].k)
      return false;
  return true;
#else
  (void)parts;
  return false;
#endif
}

#if defined(SYNAPTIX_QUANT_SIMD)
// The parts' weight rows numbered one after another and split among the threads together (one barrier).
void legacy_decode_rows(std::span<const LinearArgs> parts) {
  const LinearArgs& a0 = parts[0];
  const int64_t nb = a0.k / kQK;
  // Q4_1's min term needs each x row's sum over every block, once per call (kept per thread: no allocation
  // in the decode step once it has grown).
  thread_local std::vector<float> sx;
  sx.resize(static_cast<size_t>(a0.m * nb));
  for (int64_t r = 0; r < a0.m; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      float s = 0.0f;
      for (int64_t i = 0; i < kQK; ++i) s += a0.x[r * a0.k + b * kQK + i];
      sx[static_cast<size_t>(r * nb + b)] = s;
    }
  std::array<size_t, 9> first{};
  int64_t bytes = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    first[p + 1] = first[p] + static_cast<size_t>(parts[p].n);
    bytes += parts[p].n * quant::row_bytes(parts[p].w_dtype, parts[p].k);
  }
  const size_t rows = first[parts.size()];
  // Chunks of at least ~16 KiB of weights per x row: enough work to pay for the hand-off, small enough that
  // a decode GEMV of a few hundred rows still feeds every thread (a fixed 4096 rows ran them on one).
  const int64_t per_row = std::max<int64_t>(1, bytes / static_cast<int64_t>(rows) * a0.m);
  const auto grain = static_cast<size_t>(std::max<int64_t>(4, (16 << 10) / per_row));
  const float* sxp = sx.data();
  ThreadPool::global().parallel_for(rows, [&](size_t g0, size_t g1) {
    for (size_t p = 0; p < parts.size(); ++p) {
      const size_t b = std::max(g0, first[p]), e = std::min(g1, first[p + 1]);
      if (b >= e) continue;
      const LinearArgs& a = parts[p];
      const int64_t rb = quant::row_bytes(a.w_dtype, a.k);
      switch (a.w_dtype) {
        case DType::Q4_0: rows_fused<DType::Q4_0>(a, sxp, rb, b - first[p], e - first[p]); break;
        case DType::Q4_1: rows_fused<DType::Q4_1>(a, sxp, rb, b - first[p], e - first[p]); break;
        default: rows_fused<DType::Q8_0>(a, sxp, rb, b - first[p], e - first[p]); break;
      }
    }
  }, grain);
}
#endif

}  // namespace

void linear_quant_default(const LinearArgs& a) {
  check_block_linear(a);
  if (linear_weight_format_fused(a)) return;
#if defined(SYNAPTIX_QUANT_SIMD)
  if (const std::span<const LinearArgs> one(&a, 1); legacy_decode(one)) return legacy_decode_rows(one);
#endif
  const int64_t rb = quant::row_bytes(a.w_dtype, a.k);
  const size_t grain = static_cast<size_t>(std::max<int64_t>(4, (16 << 10) / std::max<int64_t>(rb * a.m, 1)));
  ThreadPool::global().parallel_for(static_cast<size_t>(a.n),
                                    [&](size_t n0, size_t n1) { rows_via_f32(a, rb, n0, n1); }, grain);
}

void linear_quant_default_multi(std::span<const LinearArgs> parts) {
#if defined(SYNAPTIX_QUANT_SIMD)
  if (legacy_decode(parts)) {
    for (const LinearArgs& a : parts) check_block_linear(a);
    return legacy_decode_rows(parts);
  }
#endif
  for (const LinearArgs& a : parts) linear_quant_default(a);
}

}  // namespace synaptix::kernels
