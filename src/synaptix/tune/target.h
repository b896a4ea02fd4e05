#pragma once
// The contract between the tuning loop (tuner.h) and a target, after TVM MetaSchedule's builder / runner /
// database / search-strategy split. The loop owns the search (which points, in which order, exhaustive or
// evolutionary with the cost model, when to stop), the database and the promotion; a target owns:
//   - the space of an op's points and which neighbours are valid: its generators, all behind the one
//     interface kernels/generator.h (generator_space.h builds the space and the moves over them);
//   - the builder: a point's source, compiled into something its runner can load (host compiler + dlopen on
//     the CPU, NVRTC + cubin on CUDA);
//   - the runner: one isolation primitive (a forked child with a time limit) and one timing type (Timing):
//     verify against the op's reference on fresh random inputs with a poisoned output, time, then check the
//     output again after the timed runs;
//   - its measured ceilings, which the loop holds every time against (measurement_check.h).
// The CPU target is CpuTarget (cpu_target.h); the CUDA target's linear op is tune/cuda/cuda_linear_target.h.
#include <random>
#include <string>
#include <vector>

#include "synaptix/backend/module_builder.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/kernels/generator.h"
#include "synaptix/tune/measurement_check.h"
#include "synaptix/tune/search_space.h"
#include "synaptix/tune/trial_runner.h"

namespace synaptix::tune {

class Target {
 public:
  virtual ~Target() = default;
  // "cpu", "cuda": for messages and the trace.
  virtual std::string kind() const = 0;
  // What trials and promotions are keyed by in the database (a fingerprint hash).
  virtual std::string target_hash() const = 0;
  // What `op` costs per step at this target's roofline, times its count (microseconds): the weight of its
  // share of a time budget.
  virtual double op_cost_us(const graph::Op& op) const = 0;

  // The target's generators, in the order the search meets them: one interface for every target
  // (kernels/generator.h); the space and the moves below are built on them.
  virtual std::vector<const kernels::Generator*> generators() const = 0;
  // The activation roundings candidates may use (kernels::Generator::activations); empty: all.
  virtual std::vector<std::string> activations() const { return {}; }

  // Search space: every valid point of the generators that apply (all, or only those named).
  SearchSpace space(const graph::Op& op, const std::vector<std::string>& generators) const;
  // A neighbour of p inside space, and a child of a and b (the evolutionary strategy's moves), by the
  // generator of p (of a).
  Point mutate(const Point& p, const SearchSpace& space, const graph::Op& op, std::mt19937_64& rng) const;
  Point crossover(const Point& a, const Point& b, const graph::Op& op, std::mt19937_64& rng) const;
  // A generator by name; throws naming it and the target when it has none of that name.
  const kernels::Generator& generator(const std::string& name) const;

  // Builder: a point's source (what a recipe stores and the database hashes), and several built at once
  // (results in input order; a failed build is a value with its diagnostics, not an exception). A built
  // module's `path` is what the runner loads.
  virtual backend::ModuleSource emit(const graph::Op& op, const Point& p) const = 0;
  virtual std::vector<backend::BuiltModule> build_all(const std::vector<backend::ModuleSource>& sources,
                                                      int jobs) const = 0;

  // Runner. Module path "" is the target's untuned default for the op.
  virtual TrialOutcome run(const graph::Op& op, const std::string& module_path, const MeasureOptions& mopt,
                           const RunLimits& lim, uint64_t seed) const = 0;
  // Whether the loop should hand a compile batch's trials to run_batch at once (a target whose isolated
  // run is costly to start, e.g. a device context) rather than to run one by one.
  virtual bool runs_batches() const { return false; }
  // Several trials of one op, each isolated from the others' failures (a failed trial does not take the
  // rest with it); outcomes in input order, one seed each. The default runs them one by one.
  virtual std::vector<TrialOutcome> run_batch(const graph::Op& op, const std::vector<std::string>& module_paths,
                                              const MeasureOptions& mopt, const RunLimits& lim,
                                              const std::vector<uint64_t>& seeds) const {
    std::vector<TrialOutcome> out;
    for (size_t i = 0; i < module_paths.size(); ++i) out.push_back(run(op, module_paths[i], mopt, lim, seeds.at(i)));
    return out;
  }
  // Finalists and the default, verified again and timed round-robin in one isolated run; input order.
  virtual std::vector<TrialOutcome> run_interleaved(const graph::Op& op, const std::vector<std::string>& module_paths,
                                                    const MeasureOptions& mopt, const RunLimits& lim,
                                                    uint64_t seed) const = 0;

  // The measured ceilings no honest time can beat (zeros: not measured, nothing is rejected).
  virtual Ceilings ceilings() const = 0;
};

}  // namespace synaptix::tune
