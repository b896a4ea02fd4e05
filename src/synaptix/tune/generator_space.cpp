#include "synaptix/tune/generator_space.h"

#include <algorithm>

namespace synaptix::tune {

namespace {

bool allowed(const std::vector<std::string>& activations, const kernels::Generator& g, const nlohmann::json& p) {
  return activations.empty() || std::find(activations.begin(), activations.end(), g.activations(p)) != activations.end();
}

}  // namespace

SearchSpace generators_space(const graph::Op& op, const std::vector<const kernels::Generator*>& generators,
                             const std::vector<std::string>& activations) {
  SearchSpace s;
  s.activations = activations;
  for (const kernels::Generator* g : generators) {
    if (!g->applies(op)) continue;
    s.dims.push_back({g->name(), g->space(op)});
    for (auto& p : g->points(op))
      if (allowed(activations, *g, p)) s.points.push_back({g->name(), std::move(p)});
  }
  return s;
}

Point mutate_point(const Point& p, const SearchSpace& space, const graph::Op& op, const kernels::Generator& g,
                   std::mt19937_64& rng) {
  const std::vector<kernels::ParamDim>* dims = nullptr;
  for (const auto& [name, d] : space.dims)
    if (name == p.generator) dims = &d;
  if (!dims || dims->empty()) return p;
  for (int attempt = 0; attempt < 32; ++attempt) {
    Point q = p;
    const int changes = 1 + static_cast<int>(rng() % 2);
    for (int c = 0; c < changes; ++c) {
      const auto& d = (*dims)[rng() % dims->size()];
      q.params[d.name] = d.values[rng() % d.values.size()];
    }
    if (q.params != p.params && g.valid(op, q.params) && allowed(space.activations, g, q.params)) return q;
  }
  return p;
}

Point crossover_points(const Point& a, const Point& b, const graph::Op& op, const kernels::Generator& g,
                       std::mt19937_64& rng) {
  if (a.generator != b.generator) return a;
  Point c = a;
  for (auto it = b.params.begin(); it != b.params.end(); ++it)
    if (rng() % 2) c.params[it.key()] = it.value();
  return g.valid(op, c.params) ? c : a;
}

}  // namespace synaptix::tune
