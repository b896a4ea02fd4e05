// synaptix synth: a model directory with the shapes of an existing model (or a named preset) and random
// bf16 weights.
#include <cstdio>
#include <filesystem>

#include "synaptix/command.h"
#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/model/synth.h"

namespace synaptix::app {
namespace {

int run(const std::string& like, const std::string& out, uint64_t seed) {
  namespace fs = std::filesystem;
  nlohmann::json cfg;
  std::string tokenizer_dir;
  if (fs::is_directory(like) || (fs::exists(like) && like.ends_with(".json"))) {
    const std::string path = fs::is_directory(like) ? (fs::path(like) / "config.json").string() : like;
    try {
      cfg = nlohmann::json::parse(read_text_file(path));
    } catch (const nlohmann::json::parse_error& e) {
      fail(path, ": invalid JSON (", e.what(), ")");
    }
    if (fs::is_directory(like)) tokenizer_dir = like;
  } else {
    cfg = model::preset_config(like);
  }
  model::synthesize_model(cfg, out, seed);
  // Keep the source's tokenizer so that the synthetic model can generate text.
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    if (!tokenizer_dir.empty() && fs::exists(fs::path(tokenizer_dir) / f))
      fs::copy_file(fs::path(tokenizer_dir) / f, fs::path(out) / f, fs::copy_options::overwrite_existing);
  std::printf("wrote %s (%.2f GB of bf16 weights)\n", out.c_str(),
              static_cast<double>(fs::file_size(fs::path(out) / "model.safetensors")) / 1e9);
  return 0;
}

const RegisterCommand reg{{"synth", "Write a model directory with random bf16 weights", [](CLI::App& sub) {
  auto like = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(0);
  std::string presets;
  for (const auto& n : model::preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  sub.add_option("--like", *like, "model directory, config.json, or preset (" + presets + ")")->required();
  sub.add_option("--out", *out, "output directory")->required();
  sub.add_option("--seed", *seed, "random seed");
  return [like, out, seed] { return run(*like, *out, *seed); };
}}};

}  // namespace
}  // namespace synaptix::app
