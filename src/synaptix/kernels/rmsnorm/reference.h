#pragma once
// rmsnorm: y = x / sqrt(mean(x^2) + eps) * w, per row of `dim` (f32 math, as the HF reference).
#include <cstdint>

namespace synaptix::kernels {

// rows x dim; w is f32 [dim]; y may alias x.
void rmsnorm_reference(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps);

}  // namespace synaptix::kernels
