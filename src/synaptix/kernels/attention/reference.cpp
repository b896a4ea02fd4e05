#include "synaptix/kernels/attention/reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace synaptix::kernels {

void attention_decode_reference(const float* q, int64_t heads, const PagedKv& kv, int64_t pos, int64_t window,
                                float scale, float* out, float logit_softcap) {
  const int64_t lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
  const int64_t n = pos - lo + 1, group = heads / kv.kv_heads, kv_dim = kv.kv_heads * kv.head_dim;
  std::vector<float> scores(static_cast<size_t>(n));
  for (int64_t h = 0; h < heads; ++h) {
    const float* qh = q + h * kv.head_dim;
    const int64_t kvh = h / group;
    float mx = -INFINITY;
    for (int64_t p = lo; p <= pos; ++p) {
      const int64_t slot = static_cast<int64_t>(kv.block_table[p / kv.block_size]) * kv.block_size + p % kv.block_size;
      const float* kp = kv.k + slot * kv_dim + kvh * kv.head_dim;
      float s = 0.0f;
      for (int64_t d = 0; d < kv.head_dim; ++d) s += qh[d] * kp[d];
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
      const int64_t slot = static_cast<int64_t>(kv.block_table[p / kv.block_size]) * kv.block_size + p % kv.block_size;
      const float* vp = kv.v + slot * kv_dim + kvh * kv.head_dim;
      const float w = scores[p - lo] / sum;
      for (int64_t d = 0; d < kv.head_dim; ++d) oh[d] += w * vp[d];
    }
  }
}

}  // namespace synaptix::kernels
