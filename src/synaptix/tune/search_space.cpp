#include "synaptix/tune/search_space.h"

#include <vector>

#include "synaptix/tune/generator_space.h"

namespace synaptix::tune {

// The CPU generators' space and moves are the target-neutral ones (generator_space.h) over the generators
// bound to `cpu`: one implementation for every target.

SearchSpace build_space(const graph::Op& op, const hw::CpuProfile& cpu,
                        const std::vector<const kernels::CpuGenerator*>& generators,
                        const std::vector<std::string>& activations) {
  std::vector<kernels::CpuGeneratorOn> bound;
  bound.reserve(generators.size());
  for (const auto* g : generators) bound.emplace_back(*g, cpu);
  std::vector<const kernels::Generator*> ptrs;
  for (const auto& g : bound) ptrs.push_back(&g);
  return generators_space(op, ptrs, activations);
}

namespace {
// Validity and rounding of a point do not depend on the CPU (only applies() and space() do).
const hw::CpuProfile kNoCpu{};
}  // namespace

Point mutate(const Point& p, const SearchSpace& space, const graph::Op& op, std::mt19937_64& rng) {
  for (const auto& [name, dims] : space.dims)
    if (name == p.generator && !dims.empty())
      return mutate_point(p, space, op, kernels::CpuGeneratorOn(kernels::cpu_generator(p.generator), kNoCpu), rng);
  return p;
}

Point crossover(const Point& a, const Point& b, const graph::Op& op, std::mt19937_64& rng) {
  if (a.generator != b.generator) return a;
  return crossover_points(a, b, op, kernels::CpuGeneratorOn(kernels::cpu_generator(a.generator), kNoCpu), rng);
}

}  // namespace synaptix::tune
