#pragma once
// The default product for prefill-sized batches (many x rows): a register-blocked GEMM. Each task packs
// 32 weight rows at a time into an f32 panel laid out k-major (32 outputs per k; 192 KiB at k = 1536, in
// L2), then runs a 12 x 32 micro-kernel over it for every x row (12 x rows broadcast against two 16-wide
// vectors of the panel: 24 accumulators, no horizontal sums). Each weight is converted once per call.
#include "synaptix/kernels/linear/reference.h"

namespace synaptix::kernels {

// Whether gemm_default runs this product on this build (AVX-512 compiled in; bf16, f16 or f32 weights).
bool gemm_default_applies(const LinearArgs& a);
// y = x W^T + bias; requires gemm_default_applies(a).
void gemm_default(const LinearArgs& a);

}  // namespace synaptix::kernels
