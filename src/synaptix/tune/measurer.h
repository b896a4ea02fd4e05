#pragma once
// Verify, then time, implementations of one op of any tunable kind (the op kind's Subject, subject.h, makes
// the inputs and knows the reference). Verify: fresh random inputs from `seed`, the output poisoned, at the
// bucket's largest and smallest m, against the op's reference with the op's tolerance. Time: warm-up, then one
// call per sample, each on the next of several input sets whose total exceeds the last-level cache (so weights
// and KV come from memory as in a real step), until the running median is stable; median and p10/p90 spread.
// These run the kernels in-process: the tuner calls them inside backend::run_isolated (trial_runner.h).
#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/core/thread_pool.h"
#include "synaptix/graph/op_graph.h"

namespace synaptix::tune {

struct Timing {
  double median_us = 0, p10_us = 0, p90_us = 0;
  int samples = 0;
  bool cold = false;  // every timed call read its inputs from memory (rotated sets beyond the LLC; L2 flushed)
  // The check after the timed runs, on the same loaded implementation: "" when its output was still right,
  // else what differed (a candidate that is right when verified and wrong once timed).
  std::string wrong_after;
};

struct MeasureOptions {
  int64_t llc_bytes = 32 << 20;
  double rotate_factor = 2.0;           // input sets total >= this x LLC ...
  int64_t max_rotation_bytes = 1 << 30;  // ... within this much memory
  int min_samples = 10, max_samples = 400;
  double max_seconds = 0.4;  // per implementation (per round-robin for interleaved timing)
  double stable_rel = 0.01;  // the median moved less than this over the last window: stop
};

// module_path "" is the untuned runtime's default for the op's kind.
// Empty when the implementation matches the reference; else what differed, where, by how much.
std::string verify_impl(const graph::Op& op, const std::string& module_path, ThreadPool& pool, uint64_t seed);

Timing time_impl(const graph::Op& op, const std::string& module_path, ThreadPool& pool, const MeasureOptions& opt,
                 uint64_t seed);
// Times several implementations round-robin (A B C A B C ...) so drift in machine load hits all alike, then
// verifies each again (fresh inputs, poisoned output) with the instance that was timed: Timing::wrong_after.
std::vector<Timing> time_interleaved(const graph::Op& op, const std::vector<std::string>& module_paths,
                                     ThreadPool& pool, const MeasureOptions& opt, uint64_t seed);

// Median and p10/p90 of samples (microseconds).
Timing summarize(std::vector<double> samples_us);

}  // namespace synaptix::tune
