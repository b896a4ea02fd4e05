#include "synaptix/registry/builtin_recipes.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/graph/forward_plan.h"

namespace synaptix::registry {

std::string builtin_recipes_dir() {
  if (const char* d = std::getenv("SYNAPTIX_RECIPES_DIR"); d && *d) return d;
  // Beside the program in the repository it was built or packed in (build-dir/ or .gpu-carry/bin/), then
  // the source tree it was built from.
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (const fs::path& up : {exe.parent_path().parent_path(), exe.parent_path().parent_path().parent_path()})
      if (fs::is_regular_file(up / "CMakeLists.txt", ec) && fs::is_directory(up / "recipes", ec))
        return (up / "recipes").string();
  return std::string(SYNAPTIX_SOURCE_DIR) + "/recipes";
}

std::string cuda_device_kind(const std::string& fp) {
  const size_t at = fp.rfind(":drv");
  return at == std::string::npos ? fp : fp.substr(0, at);
}

bool recipe_fits_model(const Recipe& r, const model::Spec& s) {
  if (!r.model.contains("shape") || !r.model["shape"].is_object()) return false;
  if (r.model.value("model_type", std::string()) != s.model_type) return false;
  if (s.is_moe()) return false;
  const nlohmann::json& shape = r.model["shape"];
  const std::pair<const char*, int64_t> dims[] = {
      {"hidden_size", s.hidden_size}, {"intermediate_size", s.intermediate_size}, {"num_layers", s.num_layers},
      {"num_heads", s.num_heads},     {"num_kv_heads", s.num_kv_heads},           {"head_dim", s.head_dim},
      {"vocab_size", s.vocab_size}};
  for (const auto& [key, value] : dims)
    if (!shape.contains(key) || !shape[key].is_number_integer() || shape[key].get<int64_t>() != value) return false;
  return true;
}

bool recipe_is_device_defaults(const Recipe& r) {
  return r.model.is_object() && r.model.value("any_model", false) == true;
}

int expand_gemv_rules(Recipe& r, const model::Spec& spec) {
  if (!r.whole_step || r.whole_step->gemv_rules.empty()) return 0;
  const graph::ForwardPlan fp = graph::build_forward_plan(spec);
  std::vector<tune::LinearShapeKey> shapes;
  for (int64_t m = 1; m <= r.whole_step->speed.gemv_max_rows; ++m)
    for (const auto& s : graph::step_linear_shapes(fp, m, m, true)) shapes.push_back(s);
  return tune::apply_gemv_rules(*r.whole_step, shapes, r.whole_step->speed.gemv_max_rows);
}

std::optional<BuiltinRecipe> builtin_cuda_recipe(const std::string& device_fingerprint, const model::Spec& spec,
                                                 const std::string& dir_in) {
  namespace fs = std::filesystem;
  const std::string dir = dir_in.empty() ? builtin_recipes_dir() : dir_in;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());  // the same choice on every machine
  const std::string kind = cuda_device_kind(device_fingerprint);
  std::optional<BuiltinRecipe> defaults;
  for (const auto& path : files) {
    Recipe r = load_recipe(path);
    if (r.target_kind != "cuda" || !r.whole_step || cuda_device_kind(r.target_fingerprint) != kind) continue;
    const bool for_any_model = recipe_is_device_defaults(r);
    if (!for_any_model && !recipe_fits_model(r, spec)) continue;
    if (for_any_model && defaults) continue;  // the first in name order
    BuiltinRecipe b;
    b.path = path;
    b.note = std::string(for_any_model ? "checked-in defaults of this device kind " : "checked-in recipe ") + path +
             " (measured on " + r.target_fingerprint + ")";
    if (r.target_fingerprint != device_fingerprint) b.note += "; this device runs " + device_fingerprint;
    r.target_fingerprint = device_fingerprint;
    r.target_hash = cuda_fingerprint_hash(device_fingerprint);
    b.recipe = std::move(r);
    if (!for_any_model) return b;  // a recipe measured for this very shape wins over the device's defaults
    expand_gemv_rules(b.recipe, spec);
    defaults = std::move(b);
  }
  return defaults;
}

}  // namespace synaptix::registry
