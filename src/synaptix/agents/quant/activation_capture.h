#pragma once
// A kernel set that runs every linear with the runtime default and keeps the input rows (x) of the linears
// whose weights it was given: the calibration activations GPTQ needs, taken from the real executor's forward
// so that what is captured is exactly what the model computes.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "synaptix/kernels/kernel_set.h"

namespace synaptix::agents {

class ActivationCapture final : public kernels::KernelSet {
 public:
  // weights: a weight's data pointer -> its tensor name. At most max_rows rows are kept per tensor.
  ActivationCapture(std::map<const void*, std::string> weights, int64_t max_rows);
  const kernels::LinearFn* linear(int64_t m, int64_t n, int64_t k, DType w) const override { return &fn_; }

  struct Rows {
    int64_t k = 0, rows = 0;
    std::vector<float> x;  // rows x k
  };
  // The rows captured for `name` (empty when its linear never ran).
  const Rows& rows(const std::string& name) const;
  // A hash of name's rows: projections that read the same x (q, k, v; gate, up) have the same one.
  uint64_t rows_hash(const std::string& name) const;

 private:
  std::map<const void*, std::string> weights_;
  int64_t max_rows_;
  mutable std::map<std::string, Rows> captured_;
  kernels::LinearFn fn_;
};

}  // namespace synaptix::agents
