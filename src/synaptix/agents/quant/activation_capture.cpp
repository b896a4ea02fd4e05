#include "synaptix/agents/quant/activation_capture.h"

#include <algorithm>

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

}  // namespace synaptix::agents
