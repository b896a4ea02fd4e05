#pragma once
// The kernels an executor uses in place of its defaults: what a recipe chose, loaded and ready. The engine
// asks for a kernel by op and exact shape; a null answer means "use the default implementation".
#include <cstdint>
#include <functional>

#include "synaptix/kernels/linear/reference.h"

namespace synaptix::kernels {

using LinearFn = std::function<void(const LinearArgs&)>;

class KernelSet {
 public:
  virtual ~KernelSet() = default;
  // Tuned linear for m rows of x against an [n, k] weight of dtype w, or nullptr.
  virtual const LinearFn* linear(int64_t m, int64_t n, int64_t k, DType w) const = 0;
};

}  // namespace synaptix::kernels
