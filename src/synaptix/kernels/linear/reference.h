#pragma once
// linear: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]), W in the PyTorch nn.Linear layout [out, in].
// x and y are f32; W is f32, bf16 or f16 (converted on the fly, f32 accumulation); bias is f32 or null.
// This is the oracle that every tuned linear kernel (CPU or CUDA) is verified against.
#include <cstdint>
#include <span>

#include "synaptix/core/dtype.h"

namespace synaptix::kernels {

struct LinearArgs {
  const float* x;      // [m, k]
  const void* w;       // [n, k] in w_dtype
  DType w_dtype;
  const float* bias;   // [n] or nullptr
  float* y;            // [m, n]
  int64_t m, n, k;
};

// Single-threaded, straightforward loops: the definition of the op.
void linear_reference(const LinearArgs& a);
// Multi-threaded, cache-blocked version used by the untuned runtime: each weight row is read once per call
// and applied to all m rows of x.
void linear_default(const LinearArgs& a);
// linear_default of several products in one parallel region (q, k and v of a layer; gate and up): the rows
// of all parts are split among the threads together, so a decode step waits at one barrier instead of one
// per product and each thread's weight stream runs on from one matrix into the next. Parts the fused path
// does not take (other than bf16 weights at decode sizes) run one after another through linear_default.
void linear_default_multi(std::span<const LinearArgs> parts);

}  // namespace synaptix::kernels
