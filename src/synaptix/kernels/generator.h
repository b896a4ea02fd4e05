#pragma once
// The one generator interface of every target (the tuning loop, tune/target.h, takes a target's generators
// through it): one way to compute an op, with parameters (the schedule). A generator says whether it applies
// to an op, declares its search space (named dimensions and a validity rule over their product, or the list
// of its points in the order the search meets them), says what its points compute with (exact f32
// activations or a rounding of x), and emits the source of one point: C++ for the host compiler (CPU
// generators, kernels/cpu_generator.h, bound to the probed CPU) or CUDA C++ for NVRTC (the CUDA linear op's
// GEMV schedules); a vendor-library tactic (OpenBLAS, a cuBLASLt algorithm) is a generator too.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/graph/op_graph.h"

namespace synaptix::kernels {

struct ParamDim {
  std::string name;
  std::vector<nlohmann::json> values;
};

struct KernelSource {
  std::string code;               // empty for a tactic with no source of ours (a library's algorithm index)
  std::vector<std::string> libs;  // extra link flags
};

class Generator {
 public:
  virtual ~Generator() = default;
  virtual std::string name() const = 0;
  // Whether this generator can compute `op` on its target at all.
  virtual bool applies(const graph::Op& op) const = 0;
  // The declared dimensions (for the search's moves and the cost model's features).
  virtual std::vector<ParamDim> space(const graph::Op& op) const = 0;
  // Whether `point` is one of the op's points.
  virtual bool valid(const graph::Op& op, const nlohmann::json& point) const = 0;
  // Every point, in the order the search meets them. Default: the cartesian product of space() (the first
  // dimension varying fastest) filtered by valid().
  virtual std::vector<nlohmann::json> points(const graph::Op& op) const;
  // What the point computes with: "f32" (exact to f32 rounding) or a rounding of x ("bf16", "q8"), a
  // precision choice the tuner offers only where the run allows it.
  virtual std::string activations(const nlohmann::json& point) const { return "f32"; }
  // Throws synaptix::Error naming the parameter when `point` is not in the space.
  virtual KernelSource emit(const graph::Op& op, const nlohmann::json& point) const = 0;
};

// The dimensions of a generator that lists its points: each parameter (in name order) with its values in the
// order the points first use them.
std::vector<ParamDim> dims_of_points(const std::vector<nlohmann::json>& points);

// The default points(): the product of `dims` (first dimension fastest) that `valid` accepts.
std::vector<nlohmann::json> product_points(const Generator& g, const graph::Op& op, const std::vector<ParamDim>& dims);

}  // namespace synaptix::kernels
