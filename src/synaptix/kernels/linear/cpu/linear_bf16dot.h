#pragma once
// linear_bf16dot: y[m, n] = x[m, k] W[n, k]^T (+ bias) with AVX-512 BF16 dot products (VDPBF16PS: 32
// bf16 products summed into 16 f32 lanes per instruction), for bf16 weights. x is rounded to bf16 (round to
// nearest even) once per call, so the result differs from the exact f32 product by up to ~2^-9 of sum |x w|:
// a precision choice (activations "bf16"), offered to the tuner only where the recipe's precision allows it
// and kept only when the quality gate passes. W is read as stored, no conversion in the loop: twice the MACs
// per instruction of the f32 FMA path, for prefill; decode stays bound by memory.
// Parameters: m_tile, n_tile, k_unroll (32-element steps per iteration), rows_per_task, threads (all | one),
// prefetch (bytes ahead in each W row).
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class LinearBf16DotGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "linear_bf16dot"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
  std::string activations(const nlohmann::json&) const override { return "bf16"; }
};

}  // namespace synaptix::kernels
