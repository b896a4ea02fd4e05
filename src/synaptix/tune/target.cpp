#include "synaptix/tune/target.h"

#include <algorithm>

#include "synaptix/core/error.h"
#include "synaptix/tune/generator_space.h"

namespace synaptix::tune {

SearchSpace Target::space(const graph::Op& op, const std::vector<std::string>& names) const {
  std::vector<const kernels::Generator*> gens;
  for (const kernels::Generator* g : generators())
    if (names.empty() || std::find(names.begin(), names.end(), g->name()) != names.end()) gens.push_back(g);
  return generators_space(op, gens, activations());
}

const kernels::Generator& Target::generator(const std::string& name) const {
  std::string known;
  for (const kernels::Generator* g : generators()) {
    if (g->name() == name) return *g;
    known += (known.empty() ? "" : ", ") + g->name();
  }
  fail("the ", kind(), " target has no generator \"", name, "\" (it has: ", known, ")");
}

Point Target::mutate(const Point& p, const SearchSpace& space, const graph::Op& op, std::mt19937_64& rng) const {
  for (const auto& [name, dims] : space.dims)
    if (name == p.generator && !dims.empty()) return mutate_point(p, space, op, generator(p.generator), rng);
  return p;  // no dimensions to move along
}

Point Target::crossover(const Point& a, const Point& b, const graph::Op& op, std::mt19937_64& rng) const {
  if (a.generator != b.generator) return a;
  return crossover_points(a, b, op, generator(a.generator), rng);
}

}  // namespace synaptix::tune
