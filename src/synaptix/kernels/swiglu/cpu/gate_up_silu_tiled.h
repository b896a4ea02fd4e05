#pragma once
// gate_up_silu_tiled: the gated MLP's first half in one pass, y[m, n] = silu(x Wg^T) * (x Wu^T). Each
// register tile reads row j of Wg and row j of Wu side by side and applies every loaded x vector to both,
// so x streams once for both products and neither the gate nor the up activations go to memory.
// Parameters: isa, m_tile, n_tile, k_unroll, rows_per_task (threading split), threads (all | one),
// prefetch (bytes ahead in each W row), m_block (rows of x kept in L2 while W streams past).
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class GateUpSiluTiledGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "gate_up_silu_tiled"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
};

}  // namespace synaptix::kernels
