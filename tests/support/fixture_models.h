#pragma once
// The Hugging Face reference models under ../shared/fixtures/models: their directories and, for tests that
// cover every family, their names (each directory with a config.json, sorted).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace synaptix::testing {

inline std::filesystem::path fixture_model_dir(const std::string& name) {
  return std::filesystem::path(SYNAPTIX_SHARED_DIR) / "fixtures/models" / name;
}

inline std::vector<std::string> fixture_model_names() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(SYNAPTIX_SHARED_DIR) / "fixtures/models"))
    if (std::filesystem::exists(e.path() / "config.json")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace synaptix::testing
