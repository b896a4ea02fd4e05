#pragma once
// linear_openblas: the vendor tactic. W is converted to f32 once (the module's pack step; f32 weights are used
// as given) and each call is one cblas_sgemv (m = 1) or cblas_sgemm (x W^T), then the bias. It runs on
// OpenBLAS's own threads (set to the runtime's thread count), not on our pool. Parameter: gemv_at_m1.
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class LinearOpenBlasGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "linear_openblas"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
};

}  // namespace synaptix::kernels
