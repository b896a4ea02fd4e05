#pragma once
// One trial of a compiled candidate, isolated: in a forked child with a time limit, verify against the
// reference and, if right, time it. A crash, hang or wrong answer is a failed trial with its reason.
#include <string>
#include <vector>

#include "synaptix/graph/op_graph.h"
#include "synaptix/tune/measurer.h"
#include "synaptix/tune/tuning_db.h"

namespace synaptix::tune {

struct TrialOutcome {
  TrialStatus status = TrialStatus::Crash;
  Timing timing;
  std::string message;
};

struct RunLimits {
  double time_limit_s = 60;  // per child (per implementation when several share one)
  int threads = 0;            // 0: the pool's default (all cores)
};

// module_path "" runs the untuned runtime's default for the op's kind.
TrialOutcome run_trial(const graph::Op& op, const std::string& module_path, const MeasureOptions& mopt,
                              const RunLimits& lim, uint64_t seed);

// Finalists and the baseline timed round-robin in one child; verified again first. Results in input order;
// a finalist that fails is reported with its status and no timing.
std::vector<TrialOutcome> run_interleaved(const graph::Op& op, const std::vector<std::string>& module_paths,
                                          const MeasureOptions& mopt, const RunLimits& lim, uint64_t seed);

}  // namespace synaptix::tune
