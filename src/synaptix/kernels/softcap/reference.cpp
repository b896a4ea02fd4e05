#include "synaptix/kernels/softcap/reference.h"

#include <cmath>

namespace synaptix::kernels {

void softcap_reference(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

}  // namespace synaptix::kernels
