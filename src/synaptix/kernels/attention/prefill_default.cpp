#include "synaptix/kernels/attention/prefill_default.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "synaptix/core/error.h"

namespace synaptix::kernels {

#if defined(__AVX512F__)
namespace {

constexpr int64_t kMaxHeadDim = 256;
constexpr int64_t kMaxRows = kPrefillTileTokens * 16;  // tokens x query heads per KV head (groups up to 16)

// e^x for x <= 0, as decode_default computes it (degree-6 polynomial for 2^f; flushes to 0 below -87).
inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  const __m512 i = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, i);
  __m512 p = _mm512_set1_ps(1.535336188319500e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, i);
}

}  // namespace

bool attention_prefill_applies(int64_t heads, const PagedKv& kv, float logit_softcap) {
  return logit_softcap == 0 && kv.head_dim % 16 == 0 && kv.head_dim <= kMaxHeadDim && kv.kv_heads > 0 &&
         heads % kv.kv_heads == 0 && heads / kv.kv_heads <= 16;
}

void attention_prefill_tile(const float* q, int64_t q_stride, int64_t tokens, const int64_t* pos, int64_t heads,
                            const PagedKv& kv, int64_t kv_head, int64_t window, float scale, float* out) {
  const int64_t hd = kv.head_dim, nv = hd / 16, group = heads / kv.kv_heads;
  const int64_t rows = tokens * group;
  if (tokens < 1 || tokens > kPrefillTileTokens || rows > kMaxRows)
    fail("attention_prefill_tile: ", tokens, " tokens (expected 1..", kPrefillTileTokens, ")");
  // Row r is token r / group, head kv_head * group + r % group.
  thread_local std::vector<float> acc_buffer;  // up to 256 KB: kept per thread, not on the stack
  acc_buffer.resize(static_cast<size_t>(rows * hd));
  float* acc = acc_buffer.data();
  alignas(64) float kt[kMaxHeadDim * 16];  // the key block transposed: kt[d * 16 + j]
  alignas(64) float krow[kMaxHeadDim];     // a narrow-format key row dequantized
  thread_local std::vector<float> vbuf_rows;  // the block's narrow-format value rows dequantized (16 KB)
  vbuf_rows.resize(static_cast<size_t>(16 * hd));
  float* vbuf = vbuf_rows.data();
  float run_max[kMaxRows], run_sum[kMaxRows];
  int64_t lo[kPrefillTileTokens];
  int64_t first = std::numeric_limits<int64_t>::max(), last = -1;
  for (int64_t t = 0; t < tokens; ++t) {
    lo[t] = window > 0 ? std::max<int64_t>(0, pos[t] - window + 1) : 0;
    first = std::min(first, lo[t]);
    last = std::max(last, pos[t]);
  }
  std::fill(acc_buffer.begin(), acc_buffer.end(), 0.0f);
  std::fill(run_max, run_max + rows, -INFINITY);
  std::fill(run_sum, run_sum + rows, 0.0f);
  auto slot_of = [&](int64_t p) { return kv.slot(p); };
  const __m512 lane = _mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const float* vrow[16];
  for (int64_t b = first; b <= last; b += 16) {
    const int64_t nk = std::min<int64_t>(16, last - b + 1);
    for (int64_t j = 0; j < 16; ++j) {
      if (j < nk) {
        const int64_t slot = slot_of(b + j);
        const float* kp = kv.row_f32(false, slot, kv_head, krow);
        for (int64_t d = 0; d < hd; ++d) kt[d * 16 + j] = kp[d];
        vrow[j] = kv.row_f32(true, slot, kv_head, vbuf + j * hd);
      } else {
        for (int64_t d = 0; d < hd; ++d) kt[d * 16 + j] = 0.0f;
        vrow[j] = nullptr;
      }
    }
    const __m512 key_pos = _mm512_add_ps(_mm512_set1_ps(static_cast<float>(b)), lane);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t t = r / group, h = kv_head * group + r % group;
      if (b > pos[t] || b + nk - 1 < lo[t]) continue;  // no key of this block is visible to the token
      const float* qr = q + t * q_stride + h * hd;
      __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
      for (int64_t d = 0; d < hd; d += 2) {
        s0 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d]), _mm512_load_ps(kt + d * 16), s0);
        s1 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d + 1]), _mm512_load_ps(kt + (d + 1) * 16), s1);
      }
      __m512 s = _mm512_mul_ps(_mm512_add_ps(s0, s1), _mm512_set1_ps(scale));
      // Visible keys: lo[t] <= b + j <= pos[t], j < nk (positions are exact in f32 below 2^24).
      const __mmask16 vis = _mm512_cmp_ps_mask(key_pos, _mm512_set1_ps(static_cast<float>(pos[t])), _CMP_LE_OQ) &
                            _mm512_cmp_ps_mask(key_pos, _mm512_set1_ps(static_cast<float>(lo[t])), _CMP_GE_OQ) &
                            static_cast<__mmask16>((1u << nk) - 1);
      s = _mm512_mask_blend_ps(vis, _mm512_set1_ps(-INFINITY), s);
      const float block_max = _mm512_reduce_max_ps(s);
      const float new_max = std::max(run_max[r], block_max);
      const __m512 p = _mm512_maskz_mov_ps(vis, exp_nonpositive(_mm512_sub_ps(s, _mm512_set1_ps(new_max))));
      float* a = acc + r * hd;
      if (new_max > run_max[r]) {
        const float c = run_max[r] == -INFINITY ? 0.0f : std::exp(run_max[r] - new_max);
        run_sum[r] *= c;
        const __m512 vc = _mm512_set1_ps(c);
        for (int64_t v = 0; v < nv; ++v) _mm512_storeu_ps(a + v * 16, _mm512_mul_ps(_mm512_loadu_ps(a + v * 16), vc));
        run_max[r] = new_max;
      }
      run_sum[r] += _mm512_reduce_add_ps(p);
      alignas(64) float pj[16];
      _mm512_store_ps(pj, p);
      for (int64_t j = 0; j < nk; ++j) {
        if (!((vis >> j) & 1)) continue;
        const __m512 w = _mm512_set1_ps(pj[j]);
        for (int64_t v = 0; v < nv; ++v)
          _mm512_storeu_ps(a + v * 16, _mm512_fmadd_ps(w, _mm512_loadu_ps(vrow[j] + v * 16), _mm512_loadu_ps(a + v * 16)));
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = r / group, h = kv_head * group + r % group;
    const __m512 inv = _mm512_set1_ps(1.0f / run_sum[r]);
    for (int64_t v = 0; v < nv; ++v)
      _mm512_storeu_ps(out + t * q_stride + h * hd + v * 16, _mm512_mul_ps(_mm512_loadu_ps(acc + r * hd + v * 16), inv));
  }
}

#else

bool attention_prefill_applies(int64_t, const PagedKv&, float) { return false; }

void attention_prefill_tile(const float*, int64_t, int64_t, const int64_t*, int64_t, const PagedKv&, int64_t, int64_t,
                            float, float*) {
  fail("attention_prefill_tile: this build has no AVX-512 (attention_prefill_applies is false)");
}

#endif

}  // namespace synaptix::kernels
