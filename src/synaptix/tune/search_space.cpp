#include "synaptix/tune/search_space.h"

#include <algorithm>

namespace synaptix::tune {

SearchSpace build_space(const graph::Op& op, const hw::CpuProfile& cpu,
                        const std::vector<const kernels::CpuGenerator*>& generators,
                        const std::vector<std::string>& activations) {
  auto allowed = [&](const kernels::CpuGenerator& g, const nlohmann::json& p) {
    return activations.empty() ||
           std::find(activations.begin(), activations.end(), g.activations(p)) != activations.end();
  };
  SearchSpace s;
  s.activations = activations;
  for (const auto* g : generators) {
    if (!g->applies(op, cpu)) continue;
    auto dims = g->space(op, cpu);
    s.dims.push_back({g->name(), dims});
    // Odometer over the dimensions.
    std::vector<size_t> at(dims.size(), 0);
    for (;;) {
      nlohmann::json p = nlohmann::json::object();
      for (size_t d = 0; d < dims.size(); ++d) p[dims[d].name] = dims[d].values[at[d]];
      if (g->valid(op, p) && allowed(*g, p)) s.points.push_back({g->name(), p});
      size_t d = 0;
      while (d < dims.size() && ++at[d] == dims[d].values.size()) at[d++] = 0;
      if (d == dims.size()) break;
    }
  }
  return s;
}

Point mutate(const Point& p, const SearchSpace& space, const graph::Op& op, std::mt19937_64& rng) {
  const std::vector<kernels::ParamDim>* dims = nullptr;
  for (const auto& [g, d] : space.dims)
    if (g == p.generator) dims = &d;
  if (!dims || dims->empty()) return p;
  const auto& gen = kernels::cpu_generator(p.generator);
  for (int attempt = 0; attempt < 32; ++attempt) {
    Point q = p;
    const int changes = 1 + static_cast<int>(rng() % 2);
    for (int c = 0; c < changes; ++c) {
      const auto& d = (*dims)[rng() % dims->size()];
      q.params[d.name] = d.values[rng() % d.values.size()];
    }
    const bool allowed = space.activations.empty() || std::find(space.activations.begin(), space.activations.end(),
                                                                 gen.activations(q.params)) != space.activations.end();
    if (q.params != p.params && gen.valid(op, q.params) && allowed) return q;
  }
  return p;
}

Point crossover(const Point& a, const Point& b, const graph::Op& op, std::mt19937_64& rng) {
  if (a.generator != b.generator) return a;
  Point c = a;
  for (auto it = b.params.begin(); it != b.params.end(); ++it)
    if (rng() % 2) c.params[it.key()] = it.value();
  return kernels::cpu_generator(a.generator).valid(op, c.params) ? c : a;
}

}  // namespace synaptix::tune
