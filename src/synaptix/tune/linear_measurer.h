#pragma once
// Verify, then time, a linear implementation for one op (graph::Op of kind Linear/MoeExpert).
// Verify: fresh random x, W (and bias when the op has one) from `seed`, the output poisoned with NaN, at the
// bucket's largest and smallest m, against kernels::linear_reference with an f32-reordering tolerance.
// Time: warm-up, then one call per sample, each on the next of several input copies whose total exceeds the
// last-level cache (so W comes from memory as in a real step), until the running median is stable;
// median and p10/p90 spread. These functions run the kernel in-process: the tuner calls them inside
// backend::run_isolated.
#include <cstdint>
#include <string>
#include <vector>

#include "synaptix/core/thread_pool.h"
#include "synaptix/graph/op_graph.h"

namespace synaptix::tune {

struct Timing {
  double median_us = 0, p10_us = 0, p90_us = 0;
  int samples = 0;
};

struct MeasureOptions {
  int64_t llc_bytes = 32 << 20;
  double rotate_factor = 2.0;           // input copies total >= this x LLC ...
  int64_t max_rotation_bytes = 1 << 30;  // ... within this much memory
  int min_samples = 10, max_samples = 400;
  double max_seconds = 0.4;  // per implementation (per round-robin for interleaved timing)
  double stable_rel = 0.01;  // the median moved less than this over the last window: stop
};

// An implementation under test: a module path, or "" for the runtime's kernels::linear_default.
struct LinearImpl {
  std::string module_path;
};

// Empty when the implementation matches the reference; else what differed, where, by how much.
std::string verify_linear(const graph::Op& op, const LinearImpl& impl, ThreadPool& pool, uint64_t seed);
// Whether |got - want| is within linear's tolerance for a dot product of length k whose terms' magnitudes
// sum to abs_sum: 4 eps sqrt(k) abs_sum, comfortably above f32 reordering noise on random data and far
// below the error of a skipped or repeated term.
bool linear_close(float got, double want, double abs_sum, int64_t k);

Timing time_linear(const graph::Op& op, const LinearImpl& impl, ThreadPool& pool, const MeasureOptions& opt,
                   uint64_t seed);
// Times several implementations round-robin (A B C A B C ...) so drift in machine load hits all alike.
std::vector<Timing> time_linear_interleaved(const graph::Op& op, const std::vector<LinearImpl>& impls,
                                            ThreadPool& pool, const MeasureOptions& opt, uint64_t seed);

// Median and p10/p90 of samples (microseconds).
Timing summarize(std::vector<double> samples_us);

}  // namespace synaptix::tune
