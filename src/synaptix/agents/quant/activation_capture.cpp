#include "synaptix/agents/quant/activation_capture.h"

#include <algorithm>

#include "synaptix/core/hash.h"

namespace synaptix::agents {

ActivationCapture::ActivationCapture(std::map<const void*, std::string> weights, int64_t max_rows)
    : weights_(std::move(weights)), max_rows_(max_rows) {
  fn_ = [this](const kernels::LinearArgs& a) {
    if (auto it = weights_.find(a.w); it != weights_.end()) {
      Rows& r = captured_[it->second];
      r.k = a.k;
      const int64_t take = std::min(a.m, max_rows_ - r.rows);
      if (take > 0) {
        r.x.insert(r.x.end(), a.x, a.x + take * a.k);
        r.rows += take;
      }
    }
    kernels::linear_default(a);
  };
}

const ActivationCapture::Rows& ActivationCapture::rows(const std::string& name) const {
  static const Rows kNone;
  auto it = captured_.find(name);
  return it == captured_.end() ? kNone : it->second;
}

uint64_t ActivationCapture::rows_hash(const std::string& name) const {
  const Rows& r = rows(name);
  return fnv1a64(r.x.data(), r.x.size() * sizeof(float), static_cast<uint64_t>(r.k));
}

}  // namespace synaptix::agents
