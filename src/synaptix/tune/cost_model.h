#pragma once
// The learned cost model of the evolutionary search: ridge regression of log(time) on one-hot features of a
// point (its generator and each parameter's value), trained on the ok trials of the op so far. Cheap to
// refit after every batch, and good enough to rank mutants so only promising ones are compiled and timed.
#include <map>
#include <string>
#include <vector>

#include "synaptix/tune/search_space.h"

namespace synaptix::tune {

class CostModel {
 public:
  explicit CostModel(double ridge = 1.0) : ridge_(ridge) {}
  // Fits to (point, microseconds) pairs; with fewer than 3 it stays untrained.
  void fit(const std::vector<std::pair<Point, double>>& data);
  bool trained() const { return !weights_.empty(); }
  // Predicted microseconds (untrained: 0 for every point).
  double predict(const Point& p) const;

 private:
  std::vector<int> features(const Point& p, bool grow);
  std::vector<int> features(const Point& p) const;
  double ridge_;
  std::map<std::string, int> index_;
  std::vector<double> weights_;
};

}  // namespace synaptix::tune
