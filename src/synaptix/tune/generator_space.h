#pragma once
// The search space and the evolutionary moves over any target's generators (kernels/generator.h): what the
// tuning loop (tuner.h) uses through Target::space / mutate / crossover, the same for the CPU and CUDA.
#include <random>
#include <string>
#include <vector>

#include "synaptix/graph/op_graph.h"
#include "synaptix/kernels/generator.h"
#include "synaptix/tune/search_space.h"

namespace synaptix::tune {

// Every point of the generators that apply to `op`, generator by generator in the given order, each in its
// points() order, keeping only the activation roundings `activations` allows (empty: all); the dims of each
// generator that applies, for the moves and the cost model.
SearchSpace generators_space(const graph::Op& op, const std::vector<const kernels::Generator*>& generators,
                             const std::vector<std::string>& activations);

// A neighbour of `p` inside `space`: one or two parameters changed to another value of their dimension,
// kept when `g` (p's generator) finds it valid and its rounding is allowed (up to 32 tries; else p).
Point mutate_point(const Point& p, const SearchSpace& space, const graph::Op& op, const kernels::Generator& g,
                   std::mt19937_64& rng);
// A child taking each parameter from a or b (same generator), or a itself when `g` finds it not valid.
Point crossover_points(const Point& a, const Point& b, const graph::Op& op, const kernels::Generator& g,
                       std::mt19937_64& rng);

}  // namespace synaptix::tune
