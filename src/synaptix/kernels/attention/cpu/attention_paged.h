#pragma once
// attention_paged: causal decode attention of m query tokens over the CPU executor's paged f32 KV cache
// (kernels/attention/reference.h's layout), GQA-aware: the G = heads / kv_heads query heads that share a KV
// head are computed together, so each K and V row is read once per group instead of once per head.
// heads, kv_heads and head_dim are compiled in; positions, block tables and the window are call arguments.
// Parameters: isa, split (tasks per token: one per kv head, or one per token), threads (all | one),
// prefetch (the next position's K/V row).
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class AttentionPagedGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "attention_paged"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
};

}  // namespace synaptix::kernels
