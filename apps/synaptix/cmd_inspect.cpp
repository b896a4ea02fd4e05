// synaptix inspect: the parsed spec of a model directory (or a bare config.json), with parameter count and
// bytes of weights.
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "synaptix/command.h"
#include "synaptix/model/gguf_model.h"
#include "synaptix/model/model.h"

namespace synaptix::app {
namespace {

int run(const std::string& path, bool json_out) {
  namespace fs = std::filesystem;
  nlohmann::json j;
  const bool has_weights = fs::is_directory(path) && (fs::exists(fs::path(path) / "model.safetensors") ||
                                                      fs::exists(fs::path(path) / "model.safetensors.index.json"));
  if (model::is_gguf_path(path)) {  // the spec and the stored types, without dequantizing the weights
    const model::GgufFile f(path);
    j = model::spec_to_json(model::gguf_spec(f));
    int64_t bytes = 0;
    std::map<std::string, int> types;
    for (const auto& t : f.tensors()) bytes += t.nbytes, ++types[std::string(t.format->name)];
    std::string desc = "gguf";
    for (const auto& [name, n] : types) desc += " " + name + " x" + std::to_string(n);
    j["weight_bytes"] = bytes;
    j["weight_dtype"] = desc;
  } else if (has_weights) {
    auto m = model::load_model(path);
    j = model::spec_to_json(m->spec);
    j["weight_bytes"] = m->weight_bytes();
    j["weight_dtype"] = std::string(dtype_name(m->embed->dtype));
  } else {
    const std::string cfg = fs::is_directory(path) ? (fs::path(path) / "config.json").string() : path;
    j = model::spec_to_json(model::load_spec(cfg));
    j["weight_bytes"] = nullptr;
  }
  j["path"] = path;
  if (json_out) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  auto num = [](const nlohmann::json& v) { return v.dump(); };
  std::printf("model          %s\n", path.c_str());
  std::printf("family         %s\n", j["family"].get<std::string>().c_str());
  std::printf("layers         %s\n", num(j["num_layers"]).c_str());
  std::printf("hidden         %s   intermediate %s   vocab %s\n", num(j["hidden_size"]).c_str(),
              num(j["intermediate_size"]).c_str(), num(j["vocab_size"]).c_str());
  std::printf("heads          %s q / %s kv, head_dim %s\n", num(j["num_heads"]).c_str(), num(j["num_kv_heads"]).c_str(),
              num(j["head_dim"]).c_str());
  if (j.contains("experts"))
    std::printf("experts        %s, top-%s, expert intermediate %s, normalized %s\n",
                num(j["experts"]["num_experts"]).c_str(), num(j["experts"]["experts_per_token"]).c_str(),
                num(j["experts"]["moe_intermediate_size"]).c_str(), num(j["experts"]["norm_topk_prob"]).c_str());
  std::printf("rope           %s\n", j["rope"].dump().c_str());
  std::printf("sliding window %s   qk_norm %s   qkv bias %s   tied embeddings %s\n", num(j["sliding_window"]).c_str(),
              num(j["qk_norm"]).c_str(), num(j["attention_bias"]).c_str(), num(j["tie_word_embeddings"]).c_str());
  std::printf("context        %s\n", num(j["max_position_embeddings"]).c_str());
  std::printf("dtype          %s\n", j.value("weight_dtype", j["dtype"].get<std::string>()).c_str());
  std::printf("parameters     %s (%.3f B)\n", num(j["parameters"]).c_str(), j["parameters"].get<double>() / 1e9);
  if (!j["weight_bytes"].is_null())
    std::printf("weight bytes   %s (%.3f GB)\n", num(j["weight_bytes"]).c_str(), j["weight_bytes"].get<double>() / 1e9);
  return 0;
}

const RegisterCommand reg{{"inspect", "Print a model's parsed spec", [](CLI::App& sub) {
                             auto path = std::make_shared<std::string>();
                             auto json_out = std::make_shared<bool>(false);
                             sub.add_option("--model", *path, "model directory, config.json or GGUF file")->required();
                             sub.add_flag("--json", *json_out, "print JSON");
                             return [path, json_out] { return run(*path, *json_out); };
                           }}};

}  // namespace
}  // namespace synaptix::app
