#pragma once
// The CPU target of the tuning loop (target.h): the CPU generators' spaces (kernels/cpu_generator.h), the
// host compiler with its module cache as builder, run_trial / run_interleaved (a forked child per trial,
// wall-clock timing of rotated input sets) as runner, and the ceilings hw/cpu_measure measured.
#include <string>
#include <vector>

#include "synaptix/backend/module_builder.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/tune/target.h"

namespace synaptix::tune {

class CpuTarget : public Target {
 public:
  // `builder` and `cpu` must outlive the target. `activations`: the activation roundings candidates may use
  // (CpuGenerator::activations); empty: all.
  CpuTarget(const backend::ModuleBuilder& builder, const hw::CpuProfile& cpu,
            std::vector<std::string> activations = {});
  CpuTarget(const CpuTarget&) = delete;  // generators() points into this object
  CpuTarget& operator=(const CpuTarget&) = delete;

  std::string kind() const override { return "cpu"; }
  std::string target_hash() const override { return hash_; }
  double op_cost_us(const graph::Op& op) const override;
  // Every CPU generator (kernels::cpu_generators()), bound to this CPU.
  std::vector<const kernels::Generator*> generators() const override { return generator_ptrs_; }
  std::vector<std::string> activations() const override { return activations_; }
  backend::ModuleSource emit(const graph::Op& op, const Point& p) const override;
  std::vector<backend::BuiltModule> build_all(const std::vector<backend::ModuleSource>& sources,
                                              int jobs) const override;
  TrialOutcome run(const graph::Op& op, const std::string& module_path, const MeasureOptions& mopt,
                   const RunLimits& lim, uint64_t seed) const override;
  std::vector<TrialOutcome> run_interleaved(const graph::Op& op, const std::vector<std::string>& module_paths,
                                            const MeasureOptions& mopt, const RunLimits& lim,
                                            uint64_t seed) const override;
  Ceilings ceilings() const override;

 private:
  const backend::ModuleBuilder& builder_;
  const hw::CpuProfile& cpu_;
  std::string hash_;
  std::vector<std::string> activations_;
  std::vector<kernels::CpuGeneratorOn> generators_;
  std::vector<const kernels::Generator*> generator_ptrs_;
};

// The CPU's ceilings from its profile: measured read bandwidth and f32 FMA peak (zeros when not measured),
// with the 16-bit and 8-bit product factors its ISA allows.
Ceilings cpu_ceilings(const hw::CpuProfile& cpu);

}  // namespace synaptix::tune
