#pragma once
// linear_tiled: y[m, n] = x[m, k] W[n, k]^T (+ bias) as register tiles of m_tile rows of x by n_tile rows
// of W, each accumulating k_unroll vectors at a time (AVX-512, AVX2+FMA or plain C++), W converted from
// bf16/f16 to f32 in registers. At m = 1 this is a GEMV that streams W once; for larger m the tile reuses
// each loaded W vector m_tile times, and m_block keeps a block of x in L2 while W streams past it.
// Parameters: isa, m_tile, n_tile, k_unroll, rows_per_task (the threading split: contiguous W rows per task),
// threads (all | one), prefetch (bytes ahead in each W row), packed (W re-laid as n_tile-row panels so each
// tile reads one contiguous stream), m_block.
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class LinearTiledGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "linear_tiled"; }
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
};

}  // namespace synaptix::kernels
