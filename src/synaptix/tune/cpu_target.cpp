#include "synaptix/tune/cpu_target.h"

#include <algorithm>

#include "synaptix/core/error.h"
#include "synaptix/kernels/cpu_generator.h"
#include "synaptix/tune/tuner.h"

namespace synaptix::tune {

Ceilings cpu_ceilings(const hw::CpuProfile& cpu) {
  Ceilings c;
  c.mem_gbps = cpu.mem_read_gbps;
  // measure_fma_gflops runs the widest FMA this build was compiled for; generated kernels are built with
  // -march=native and may use wider vectors than a build without it.
#if defined(__AVX512F__)
  const double build_lanes = 16;
#elif defined(__FMA__)
  const double build_lanes = 8;
#else
  const double build_lanes = 1;
#endif
  const double isa_lanes = cpu.isa.avx512f ? 16 : cpu.isa.fma ? 8 : 1;
  c.flop_gflops = cpu.fma_gflops * std::max(1.0, isa_lanes / build_lanes);
  c.flop_factor_16bit = 2;  // VDPBF16PS / AVX512-FP16: two 16-bit products per f32 lane
  c.flop_factor_8bit = 4;   // VNNI vpdpbusd or AVX2 maddubs: four 8-bit products per 32-bit lane
  c.bandwidth_slack = 1.5;
  c.flop_slack = 1.25;
  return c;
}

CpuTarget::CpuTarget(const backend::ModuleBuilder& builder, const hw::CpuProfile& cpu,
                     std::vector<std::string> activations)
    : builder_(builder), cpu_(cpu), hash_(cpu.fingerprint_hash()), activations_(std::move(activations)) {
  generators_.reserve(kernels::cpu_generators().size());
  for (const kernels::CpuGenerator* g : kernels::cpu_generators()) generators_.emplace_back(*g, cpu_);
  for (const auto& g : generators_) generator_ptrs_.push_back(&g);
}

double CpuTarget::op_cost_us(const graph::Op& op) const { return tune::op_cost_us(op, cpu_); }

backend::ModuleSource CpuTarget::emit(const graph::Op& op, const Point& p) const {
  auto ks = generator(p.generator).emit(op, p.params);
  return {ks.code, ks.libs};
}

std::vector<backend::BuiltModule> CpuTarget::build_all(const std::vector<backend::ModuleSource>& sources,
                                                       int jobs) const {
  return builder_.build_all(sources, jobs);
}

TrialOutcome CpuTarget::run(const graph::Op& op, const std::string& module_path, const MeasureOptions& mopt,
                            const RunLimits& lim, uint64_t seed) const {
  return run_trial(op, module_path, mopt, lim, seed);
}

std::vector<TrialOutcome> CpuTarget::run_interleaved(const graph::Op& op, const std::vector<std::string>& module_paths,
                                                     const MeasureOptions& mopt, const RunLimits& lim,
                                                     uint64_t seed) const {
  return tune::run_interleaved(op, module_paths, mopt, lim, seed);
}

Ceilings CpuTarget::ceilings() const { return cpu_ceilings(cpu_); }

}  // namespace synaptix::tune
