#include "synaptix/kernels/linear/quant_formats.h"

// GCC 12 reports the _mm512_undefined_* operands inside its own AVX-512 conversion intrinsics as maybe
// uninitialized; they are don't-care inputs of unmasked instructions.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cstring>

#include "synaptix/core/thread_pool.h"
#include "synaptix/kernels/linear/quant_simd.h"
#include "synaptix/quant/block_dtype.h"
#include "synaptix/quant/weight_format.h"
#include "synaptix/quant/weight_quantize.h"

namespace synaptix::kernels {

namespace {

using namespace quant_simd;

#if defined(SYNAPTIX_QUANT_SIMD)
constexpr bool per_channel(DType t) { return t == DType::W8_PC || t == DType::FP8_PC; }
constexpr int64_t group_of(DType t) {
  switch (t) {
    case DType::W4_G64: case DType::W4A_G64: return 64;
    case DType::W4_G128: case DType::W4A_G128: return 128;
    default: return 32;
  }
}
constexpr bool asym(DType t) { return t == DType::W4A_G32 || t == DType::W4A_G64 || t == DType::W4A_G128; }
// Bytes of one group's block, and where its codes start within it.
constexpr int64_t block_bytes(DType t) { return t == DType::MXFP4 ? 17 : (asym(t) ? 4 : 2) + group_of(t) / 2; }
constexpr int64_t codes_at(DType t) { return t == DType::MXFP4 ? 1 : asym(t) ? 4 : 2; }

// Unit u of a row (32 codes with one scale) as kVecs float vectors q, the x offsets they multiply (off), and
// the unit's scale d (1 for per-channel formats, whose row scale is applied once at the end).
template <DType T>
inline void unit(const uint8_t* row, int64_t u, vec q[kVecs], int64_t off[kVecs], float* d) {
  if constexpr (per_channel(T)) {
    const uint8_t* c = row + 4 + 32 * u;
    if constexpr (T == DType::W8_PC) int8s(c, q);
    else fp8s(c, q);
    for (int v = 0; v < kVecs; ++v) off[v] = 32 * u + v * kLanes;
    *d = 1.0f;
  } else {
    constexpr int64_t G = group_of(T), chunks = G / 32;
    const int64_t b = u / chunks, c = u % chunks;
    const uint8_t* blk = row + b * block_bytes(T);
    const uint8_t* qs = blk + codes_at(T) + 16 * c;
    if constexpr (T == DType::MXFP4) {
      *d = e8m0_value(blk[0]);
      e2m1s(qs, q);
    } else {
      *d = half_at(blk);
      nibbles(qs, asym(T) ? blk[2] : 8, q);
    }
    // The first half of the vectors hold low nibbles (elements 16c..), the second high ones (G/2 + 16c..).
    const int64_t lo = b * G + 16 * c, hi = lo + G / 2;
    for (int v = 0; v < kVecs; ++v) off[v] = (v < kVecs / 2 ? lo : hi) + (v % (kVecs / 2)) * kLanes;
  }
}

inline float row_scale(DType t, const uint8_t* row) {
  float s = 1.0f;
  if (per_channel(t)) std::memcpy(&s, row, 4);
  return s;
}

template <DType T, int R>
void dot_units(const uint8_t* row, int64_t k, const float* x, int64_t ldx, float* out) {
  vec acc[R];
  for (int r = 0; r < R; ++r) acc[r] = vzero();
  for (int64_t u = 0; u < k / 32; ++u) {
    vec q[kVecs];
    int64_t off[kVecs];
    float d;
    unit<T>(row, u, q, off, &d);
    const vec vd = vset1(d);
    for (int r = 0; r < R; ++r) {
      const float* xr = x + r * ldx;
      vec t = vmul(q[0], vload(xr + off[0]));
      for (int v = 1; v < kVecs; ++v) t = vfma(q[v], vload(xr + off[v]), t);
      if constexpr (per_channel(T)) acc[r] = vadd(acc[r], t);
      else acc[r] = vfma(vd, t, acc[r]);
    }
  }
  const float s = row_scale(T, row);
  for (int r = 0; r < R; ++r) out[r] = vsum(acc[r]) * s;
}

template <DType T, int R>
void rows_fused(const LinearArgs& a, int64_t rb, size_t n0, size_t n1) {
  float out[R];
  for (size_t n = n0; n < n1; ++n) {
    dot_units<T, R>(static_cast<const uint8_t*>(a.w) + static_cast<int64_t>(n) * rb, a.k, a.x, a.k, out);
    for (int r = 0; r < R; ++r) a.y[r * a.n + static_cast<int64_t>(n)] = out[r] + (a.bias ? a.bias[n] : 0.0f);
  }
}

template <DType T>
void rows_fused_m(const LinearArgs& a, int64_t rb, size_t n0, size_t n1) {
  switch (a.m) {
    case 1: return rows_fused<T, 1>(a, rb, n0, n1);
    case 2: return rows_fused<T, 2>(a, rb, n0, n1);
    case 3: return rows_fused<T, 3>(a, rb, n0, n1);
    default: return rows_fused<T, 4>(a, rb, n0, n1);
  }
}

template <DType T>
void dequantize_units(const uint8_t* row, int64_t k, float* dst) {
  const vec s = vset1(row_scale(T, row));
  for (int64_t u = 0; u < k / 32; ++u) {
    vec q[kVecs];
    int64_t off[kVecs];
    float d;
    unit<T>(row, u, q, off, &d);
    const vec vd = per_channel(T) ? s : vset1(d);
    for (int v = 0; v < kVecs; ++v) vstore(dst + off[v], vmul(vd, q[v]));
  }
}

// Calls fn.template operator()<T>() with the weight-format dtype t as a template argument.
template <typename Fn>
bool with_format(DType t, Fn&& fn) {
  switch (t) {
    case DType::W8_PC: fn.template operator()<DType::W8_PC>(); return true;
    case DType::FP8_PC: fn.template operator()<DType::FP8_PC>(); return true;
    case DType::W4_G32: fn.template operator()<DType::W4_G32>(); return true;
    case DType::W4_G64: fn.template operator()<DType::W4_G64>(); return true;
    case DType::W4_G128: fn.template operator()<DType::W4_G128>(); return true;
    case DType::W4A_G32: fn.template operator()<DType::W4A_G32>(); return true;
    case DType::W4A_G64: fn.template operator()<DType::W4A_G64>(); return true;
    case DType::W4A_G128: fn.template operator()<DType::W4A_G128>(); return true;
    case DType::MXFP4: fn.template operator()<DType::MXFP4>(); return true;
    default: return false;
  }
}
#endif

}  // namespace

bool linear_weight_format_fused(const LinearArgs& a) {
#if defined(SYNAPTIX_QUANT_SIMD)
  if (a.m < 1 || a.m > 4 || a.k % 32 != 0 || !quant::weight_format(a.w_dtype)) return false;
  const int64_t rb = quant::row_bytes(a.w_dtype, a.k);
  // At least ~16 KiB of weights per x row in a chunk (a fixed 4096 rows kept decode GEMVs on one thread).
  const size_t grain = static_cast<size_t>(std::max<int64_t>(4, (16 << 10) / std::max<int64_t>(rb * a.m, 1)));
  return with_format(a.w_dtype, [&]<DType T>() {
    ThreadPool::global().parallel_for(static_cast<size_t>(a.n),
                                      [&](size_t n0, size_t n1) { rows_fused_m<T>(a, rb, n0, n1); }, grain);
  });
#else
  (void)a;
  return false;
#endif
}

void dequantize_weight_format_row(DType t, const uint8_t* row, int64_t k, float* dst) {
#if defined(SYNAPTIX_QUANT_SIMD)
  if (k % 32 == 0 && with_format(t, [&]<DType T>() { dequantize_units<T>(row, k, dst); })) return;
#endif
  quant::dequantize_rows(*quant::weight_format(t), row, 1, k, dst);
}

}  // namespace synaptix::kernels
