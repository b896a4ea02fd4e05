#include "synaptix/kernels/attention/reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace synaptix::kernels {

const float* PagedKv::row_f32(bool value, int64_t slot, int64_t kvh, float* buf) const {
  const void* r = row(value ? v : k, slot, kvh);
  if (format == KvFormat::F32) return static_cast<const float*>(r);
  kv_decode_head(format, r, head_dim, row_scale(value ? v_scale : k_scale, slot, kvh), buf);
  return buf;
}

void attention_decode_reference(const float* q, int64_t heads, const PagedKv& kv, int64_t pos, int64_t window,
                                float scale, float* out, float logit_softcap) {
  const int64_t lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
  const int64_t n = pos - lo + 1, group = heads / kv.kv_heads;
  std::vector<float> scores(static_cast<size_t>(n));
  for (int64_t h = 0; h < heads; ++h) {
    const float* qh = q + h * kv.head_dim;
    const int64_t kvh = h / group;
    float mx = -INFINITY;
    for (int64_t p = lo; p <= pos; ++p) {
      const int64_t slot = kv.slot(p);
      const void* kp = kv.row(kv.k, slot, kvh);
      const float ks = kv.row_scale(kv.k_scale, slot, kvh);
      float s = 0.0f;
      for (int64_t d = 0; d < kv.head_dim; ++d) s += qh[d] * kv_decode(kv.format, kp, d, ks);
      s *= scale;
      if (logit_softcap > 0) s = logit_softcap * std::tanh(s / logit_softcap);
      scores[p - lo] = s;
      mx = std::max(mx, s);
    }
    float sum = 0.0f;
    for (auto& s : scores) {
      s = std::exp(s - mx);
      sum += s;
    }
    float* oh = out + h * kv.head_dim;
    std::fill(oh, oh + kv.head_dim, 0.0f);
    for (int64_t p = lo; p <= pos; ++p) {
      const int64_t slot = kv.slot(p);
      const void* vp = kv.row(kv.v, slot, kvh);
      const float vs = kv.row_scale(kv.v_scale, slot, kvh);
      const float w = scores[p - lo] / sum;
      for (int64_t d = 0; d < kv.head_dim; ++d) oh[d] += w * kv_decode(kv.format, vp, d, vs);
    }
  }
}

}  // namespace synaptix::kernels
