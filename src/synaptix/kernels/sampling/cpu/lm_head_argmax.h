#pragma once
// lm_head_argmax: the greedy path's LM head, ids[i] = argmax_j x[i] . W[j] over the vocabulary, with the
// argmax fused into the matmul: each task keeps the best (logit, id) of its vocabulary rows per token in
// registers and the [m, vocab] logits are never written. Ties go to the lowest id (as torch.argmax).
// Parameters: isa, m_tile, n_tile, k_unroll, rows_per_task (the split of the vocabulary), prefetch.
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class LmHeadArgmaxGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "lm_head_argmax"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
};

}  // namespace synaptix::kernels
