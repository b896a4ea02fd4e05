#include "synaptix/kernels/generator.h"

#include <algorithm>
#include <map>

namespace synaptix::kernels {

std::vector<nlohmann::json> product_points(const Generator& g, const graph::Op& op, const std::vector<ParamDim>& dims) {
  std::vector<nlohmann::json> out;
  for (const auto& d : dims)
    if (d.values.empty()) return out;
  // Odometer over the dimensions.
  std::vector<size_t> at(dims.size(), 0);
  for (;;) {
    nlohmann::json p = nlohmann::json::object();
    for (size_t d = 0; d < dims.size(); ++d) p[dims[d].name] = dims[d].values[at[d]];
    if (g.valid(op, p)) out.push_back(std::move(p));
    size_t d = 0;
    while (d < dims.size() && ++at[d] == dims[d].values.size()) at[d++] = 0;
    if (d == dims.size()) break;
  }
  return out;
}

std::vector<ParamDim> dims_of_points(const std::vector<nlohmann::json>& points) {
  std::map<std::string, std::vector<nlohmann::json>> values;
  for (const auto& p : points)
    for (auto it = p.begin(); it != p.end(); ++it) {
      auto& v = values[it.key()];
      if (std::find(v.begin(), v.end(), it.value()) == v.end()) v.push_back(it.value());
    }
  std::vector<ParamDim> out;
  for (auto& [name, v] : values) out.push_back({name, std::move(v)});
  return out;
}

std::vector<nlohmann::json> Generator::points(const graph::Op& op) const { return product_points(*this, op, space(op)); }

}  // namespace synaptix::kernels
