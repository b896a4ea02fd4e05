#pragma once
// One implementation of one op under test, with the inputs it runs on: a generated module (generated_abi.h)
// or, for module path "", the untuned runtime's default path for that op kind. The measurer (measurer.h)
// drives every op kind through this interface: verify on fresh random inputs against the op's reference,
// then time on rotated input sets.
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "synaptix/core/thread_pool.h"
#include "synaptix/graph/op_graph.h"

namespace synaptix::tune {

class Subject {
 public:
  virtual ~Subject() = default;
  // Fresh random inputs from rng, the output poisoned (NaN, or -1 for ids), at the bucket's largest and
  // smallest m, compared to the op's reference: "" when right, else what differed, where and by how much.
  virtual std::string verify(std::mt19937_64& rng) = 0;
  // Bytes one timing set (inputs, weight operands, outputs) occupies.
  virtual int64_t set_bytes() const = 0;
  // Adds `copies` timing sets at the op's largest m, filled from rng.
  virtual void make_sets(int copies, std::mt19937_64& rng) = 0;
  virtual size_t sets() const = 0;
  // One call of the implementation on timing set i.
  virtual void run(size_t i) = 0;
};

// Throws naming the op when no implementation of its kind can be tested, or the module's entry points are
// missing. The subject's kernels run on `pool`, which must outlive it.
std::unique_ptr<Subject> make_subject(const graph::Op& op, const std::string& module_path, ThreadPool& pool);

// Whether |got - want| is within the tolerance of a dot product of length k whose terms' magnitudes sum to
// abs_sum: 4 eps sqrt(k) abs_sum, comfortably above f32 reordering noise on random data and far below the
// error of a skipped or repeated term.
bool linear_close(float got, double want, double abs_sum, int64_t k);
double linear_tolerance(double abs_sum, int64_t k);

}  // namespace synaptix::tune
