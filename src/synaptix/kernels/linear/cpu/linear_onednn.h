#pragma once
// linear_onednn: oneDNN's matmul (Debian libdnnl-dev) as a vendor tactic, beside the generated kernels and
// OpenBLAS: x rounded to bf16 once per call (activations "bf16", a gated precision choice), f32 out. bf16 W
// is read as stored; GGUF Q4_0 / Q4_1 / Q8_0 W (5 rows of x or more: prefill and batches) is expanded to
// bf16 slice by slice in each call (oneDNN 2.6 has no block-scaled weights), so its weights are rounded to
// bf16 too, under the same gate. oneDNN picks its best implementation for the CPU (AMX tiles on Xeons
// that have them, AVX-512 BF16 otherwise). It runs single-threaded inside each of the runtime's pool tasks,
// one slice of W's rows per task, so no OpenMP team competes with the pool for the cores.
// Parameters: isa (avx512_bf16), threads (all | one), slices_per_thread (1 | 4).
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::kernels {

class LinearOneDnnGenerator final : public CpuGenerator {
 public:
  std::string name() const override { return "linear_onednn"; }
  // Only where the host has oneDNN's headers (this build saw them) and AVX-512 BF16.
  bool applies(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  std::vector<ParamDim> space(const graph::Op& op, const hw::CpuProfile& cpu) const override;
  bool valid(const graph::Op& op, const nlohmann::json& point) const override;
  KernelSource emit(const graph::Op& op, const nlohmann::json& point) const override;
  std::string activations(const nlohmann::json&) const override { return "bf16"; }
};

}  // namespace synaptix::kernels
