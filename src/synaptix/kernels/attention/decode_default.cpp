#include "synaptix/kernels/attention/decode_default.h"

#include <algorithm>
#include <cmath>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace synaptix::kernels {

#if defined(__AVX512F__)
namespace {

// e^x for x <= 0 (softmax inputs after the max is subtracted): 2^(x log2 e) split into 2^i * 2^f with a
// degree-6 polynomial for 2^f on [-0.5, 0.5] (relative error ~2e-7); below -87 the result flushes to 0.
inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  const __m512 i = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, i);  // [-0.5, 0.5]
  __m512 p = _mm512_set1_ps(1.535336188319500e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, i);  // p * 2^i
}

constexpr int kMaxVecs = 16;  // head_dim up to 256

}  // namespace

void attention_decode_default(const float* q, int64_t heads, const PagedKv& kv, int64_t pos, int64_t window,
                              float scale, float* out, float logit_softcap) {
  const int64_t hd = kv.head_dim, nv = hd / 16;
  if (logit_softcap > 0 || hd % 16 != 0 || nv > kMaxVecs || heads % kv.kv_heads != 0)
    return attention_decode_reference(q, heads, kv, pos, window, scale, out, logit_softcap);
  const int64_t lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
  const int64_t n = pos - lo + 1, group = heads / kv.kv_heads;
  const int64_t padded = (n + 15) / 16 * 16;
  alignas(64) float krow[kMaxVecs * 16], vrow[kMaxVecs * 16];  // a narrow-format row dequantized
  thread_local std::vector<float> scores;
  scores.resize(static_cast<size_t>(group * padded));
  auto slot_of = [&](int64_t p) { return kv.slot(p); };
  for (int64_t kvh = 0; kvh < kv.kv_heads; ++kvh) {
    // Scores of every head in the group against each key row, the row loaded once.
    for (int64_t p = lo; p <= pos; ++p) {
      const float* kp = kv.row_f32(false, slot_of(p), kvh, krow);
      __m512 kr[kMaxVecs];
      for (int64_t v = 0; v < nv; ++v) kr[v] = _mm512_loadu_ps(kp + v * 16);
      for (int64_t g = 0; g < group; ++g) {
        const float* qh = q + (kvh * group + g) * hd;
        __m512 acc0 = _mm512_mul_ps(_mm512_loadu_ps(qh), kr[0]), acc1 = _mm512_setzero_ps();
        for (int64_t v = 1; v < nv; ++v)
          if (v & 1) acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(qh + v * 16), kr[v], acc1);
          else acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(qh + v * 16), kr[v], acc0);
        scores[static_cast<size_t>(g * padded + (p - lo))] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) * scale;
      }
    }
    // Softmax per head (padding lanes masked off).
    for (int64_t g = 0; g < group; ++g) {
      float* s = scores.data() + g * padded;
      __m512 mx = _mm512_set1_ps(-INFINITY);
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = static_cast<__mmask16>(n - i >= 16 ? 0xffff : (1u << (n - i)) - 1);
        mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, s + i));
      }
      const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
      __m512 sum = _mm512_setzero_ps();
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = static_cast<__mmask16>(n - i >= 16 ? 0xffff : (1u << (n - i)) - 1);
        const __m512 e = _mm512_maskz_mov_ps(m, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + i), vmax)));
        _mm512_mask_storeu_ps(s + i, m, e);
        sum = _mm512_add_ps(sum, e);
      }
      const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = static_cast<__mmask16>(n - i >= 16 ? 0xffff : (1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(s + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + i), inv));
      }
    }
    // Weighted values: each value row loaded once for the group's heads.
    __m512 acc[8][kMaxVecs];
    for (int64_t g0 = 0; g0 < group; g0 += 8) {
      const int64_t gn = std::min<int64_t>(8, group - g0);
      for (int64_t g = 0; g < gn; ++g)
        for (int64_t v = 0; v < nv; ++v) acc[g][v] = _mm512_setzero_ps();
      for (int64_t p = lo; p <= pos; ++p) {
        const float* vp = kv.row_f32(true, slot_of(p), kvh, vrow);
        for (int64_t v = 0; v < nv; ++v) {
          const __m512 vr = _mm512_loadu_ps(vp + v * 16);
          for (int64_t g = 0; g < gn; ++g)
            acc[g][v] = _mm512_fmadd_ps(_mm512_set1_ps(scores[static_cast<size_t>((g0 + g) * padded + (p - lo))]), vr, acc[g][v]);
        }
      }
      for (int64_t g = 0; g < gn; ++g)
        for (int64_t v = 0; v < nv; ++v) _mm512_storeu_ps(out + (kvh * group + g0 + g) * hd + v * 16, acc[g][v]);
    }
  }
}

#else

void attention_decode_default(const float* q, int64_t heads, const PagedKv& kv, int64_t pos, int64_t window,
                              float scale, float* out, float logit_softcap) {
  attention_decode_reference(q, heads, kv, pos, window, scale, out, logit_softcap);
}

#endif

}  // namespace synaptix::kernels
