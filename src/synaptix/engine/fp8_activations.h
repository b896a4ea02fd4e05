#pragma once
// W8A8 FP8 (a recipe's precision "activations": "fp8"; the CUDA executor's CudaExecutorOptions::fp8_activations):
// which models and devices can run it. Rounding activations to E4M3 per token is a precision the quality
// gate chooses (`eval compare` with activations=fp8), so an executor asked for it refuses up front, by name,
// what it cannot honour instead of quietly running another precision.
#include <span>
#include <string>

#include "synaptix/core/dtype.h"

namespace synaptix::engine {

// A projection matrix as the executor holds it: "layer 3 qkv", its dtype and its shape [n, k].
struct ProjectionWeights {
  std::string name;
  DType dtype = DType::BF16;
  int64_t n = 0, k = 0;
};

// Throws synaptix::Error when W8A8 cannot run: a device below compute capability 8.9 (FP8 tensor cores come
// with Ada and Hopper), naming `device` and its capability; no projection; or a projection not in
// fp8-e4m3-pc (naming it, its dtype and the format expected) or whose n or k is not a multiple of 16 (the
// FP8 GEMM's alignment).
void check_fp8_activations(std::span<const ProjectionWeights> projections, int cc_major, int cc_minor,
                           const std::string& device);

}  // namespace synaptix::engine
