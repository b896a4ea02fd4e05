#include "synaptix/tune/cost_model.h"

#include <cmath>

namespace synaptix::tune {

std::vector<int> CostModel::features(const Point& p, bool grow) {
  std::vector<std::string> names{"g=" + p.generator};
  for (auto it = p.params.begin(); it != p.params.end(); ++it)
    names.push_back(p.generator + "." + it.key() + "=" + it.value().dump());
  std::vector<int> out;
  for (const auto& n : names) {
    auto f = index_.find(n);
    if (f != index_.end()) out.push_back(f->second);
    else if (grow) out.push_back(index_[n] = static_cast<int>(index_.size()) + 1);  // 0 is the intercept
  }
  return out;
}

std::vector<int> CostModel::features(const Point& p) const { return const_cast<CostModel*>(this)->features(p, false); }

void CostModel::fit(const std::vector<std::pair<Point, double>>& data) {
  weights_.clear();
  if (data.size() < 3) return;
  std::vector<std::vector<int>> rows;
  for (const auto& [p, _] : data) rows.push_back(features(p, true));
  const size_t d = index_.size() + 1;
  // Normal equations (A^T A + ridge I) w = A^T y on binary features: d is a few dozen.
  std::vector<double> a(d * d, 0.0), b(d, 0.0);
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<int> f = rows[r];
    f.push_back(0);
    const double y = std::log(std::max(1e-3, data[r].second));
    for (int i : f) {
      b[i] += y;
      for (int j : f) a[i * d + j] += 1.0;
    }
  }
  for (size_t i = 1; i < d; ++i) a[i * d + i] += ridge_;
  a[0] += 1e-6;
  // Gaussian elimination with partial pivoting (the matrix is symmetric positive definite).
  for (size_t c = 0; c < d; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < d; ++r)
      if (std::fabs(a[r * d + c]) > std::fabs(a[piv * d + c])) piv = r;
    for (size_t k = 0; k < d; ++k) std::swap(a[c * d + k], a[piv * d + k]);
    std::swap(b[c], b[piv]);
    const double p = a[c * d + c];
    if (std::fabs(p) < 1e-12) return;
    for (size_t r = c + 1; r < d; ++r) {
      const double f = a[r * d + c] / p;
      if (f == 0) continue;
      for (size_t k = c; k < d; ++k) a[r * d + k] -= f * a[c * d + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> w(d, 0.0);
  for (size_t c = d; c-- > 0;) {
    double s = b[c];
    for (size_t k = c + 1; k < d; ++k) s -= a[c * d + k] * w[k];
    w[c] = s / a[c * d + c];
  }
  weights_ = std::move(w);
}

double CostModel::predict(const Point& p) const {
  if (weights_.empty()) return 0.0;
  double s = weights_[0];
  for (int i : features(p))
    if (static_cast<size_t>(i) < weights_.size()) s += weights_[static_cast<size_t>(i)];
  return std::exp(s);
}

}  // namespace synaptix::tune
