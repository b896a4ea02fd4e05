#pragma once
// add_rmsnorm_vec: the residual add fused with the RMSNorm that follows it, residual += x, then
// y = residual / sqrt(mean(residual^2) + eps) * gamma, in two passes over a row instead of three (the sum of
// squares is accumulated while the sum is stored). n is compiled in; rows run on the pool.
// Parameters: isa, unroll (independent accumulators), rows_per_task, threads (all | one).
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class AddRmsNormVecGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "add_rmsnorm_vec"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
};

}  // namespace synaptix::kernels
