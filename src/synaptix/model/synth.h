#pragma once
// Synthetic models: a directory with a given config.json and random bf16 weights, so that any published
// architecture can be run, tuned and timed before its weights are at hand.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace synaptix::model {

// Config shapes of published models, in the transformers-4 form their config.json files use.
std::vector<std::string> preset_names();
// Throws naming the preset and listing the known ones.
nlohmann::json preset_config(const std::string& name);

// Writes config.json and model.safetensors (bf16, N(0, 0.02) matrices, unit norms, streamed tensor by
// tensor so that memory stays small) into out_dir. Deterministic for a seed.
void synthesize_model(const nlohmann::json& config, const std::string& out_dir, uint64_t seed);

}  // namespace synaptix::model
