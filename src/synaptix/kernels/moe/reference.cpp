#include "synaptix/kernels/moe/reference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace synaptix::kernels {

std::vector<ExpertChoice> moe_route_reference(const float* logits, int64_t num_experts, int64_t top_k,
                                              bool normalize) {
  std::vector<float> p(logits, logits + num_experts);
  const float mx = *std::max_element(p.begin(), p.end());
  float sum = 0.0f;
  for (auto& v : p) sum += (v = std::exp(v - mx));
  for (auto& v : p) v /= sum;
  std::vector<int32_t> idx(static_cast<size_t>(num_experts));
  std::iota(idx.begin(), idx.end(), 0);
  // Ties go to the lower index, as torch.topk does on CPU.
  std::partial_sort(idx.begin(), idx.begin() + top_k, idx.end(),
                    [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  std::vector<ExpertChoice> out;
  float total = 0.0f;
  for (int64_t i = 0; i < top_k; ++i) {
    out.push_back({idx[i], p[idx[i]]});
    total += p[idx[i]];
  }
  if (normalize)
    for (auto& c : out) c.weight /= total;
  return out;
}

}  // namespace synaptix::kernels
