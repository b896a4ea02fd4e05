#pragma once
// The candidates for one op: every generator that applies, each with its declared space (the cartesian
// product of its parameter values, filtered by the generator's validity rule).
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/graph/op_graph.h"
#include "synaptix/hw/cpu_profile.h"
#include "synaptix/kernels/cpu_generator.h"

namespace synaptix::tune {

struct Point {
  std::string generator;
  nlohmann::json params;
  std::string key() const { return generator + ":" + params.dump(); }
};

struct SearchSpace {
  std::vector<Point> points;
  // For the cost model: the dimensions of each generator.
  std::vector<std::pair<std::string, std::vector<kernels::ParamDim>>> dims;
  std::vector<std::string> activations;  // the roundings allowed (empty: all): mutate keeps to them
};

// `activations`: the activation roundings the run allows (CpuGenerator::activations: "f32", "bf16", "q8");
// empty allows all.
SearchSpace build_space(const graph::Op& op, const hw::CpuProfile& cpu,
                        const std::vector<const kernels::CpuGenerator*>& generators,
                        const std::vector<std::string>& activations = {});

// A neighbour of `p` inside `space`: one or two parameters changed to another value of their dimension
// (invalid results are retried; returns p itself when no valid neighbour was found).
Point mutate(const Point& p, const SearchSpace& space, const graph::Op& op, std::mt19937_64& rng);
// A child taking each parameter from a or b (same generator), or a itself when not valid.
Point crossover(const Point& a, const Point& b, const graph::Op& op, std::mt19937_64& rng);

}  // namespace synaptix::tune
