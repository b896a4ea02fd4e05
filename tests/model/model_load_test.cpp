// Loading real fixture directories, and every kind of broken directory giving one clear error.
#include "synaptix/model/model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "support/cli.h"

using namespace synaptix;
namespace fs = std::filesystem;

namespace {
const fs::path kLlama = fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models/llama";

struct TempModel {
  fs::path dir;
  TempModel() {
    dir = fs::temp_directory_path() / ("sx_model_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(kLlama / f, dir / f);
  }
  ~TempModel() { fs::remove_all(dir); }
  static int& counter() {
    static int c = 0;
    return c;
  }
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
  }
  std::string read(const std::string& name) { return read_text_file((dir / name).string()); }
};

std::string load_error(const fs::path& dir) {
  try {
    model::load_model(dir.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(ModelLoad, FixtureLoadsInPlace) {
  auto m = model::load_model(kLlama.string());
  EXPECT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->embed->dtype, DType::BF16);
  // Weights are views into the memory map, not copies.
  const auto& f = *m->files.front();
  const uint8_t* p = static_cast<const uint8_t*>(m->layers[0].q->data);
  EXPECT_GE(p, static_cast<const uint8_t*>(f.tensors().begin()->second.data) - 1024 * 1024);
  EXPECT_EQ(m->weight_bytes(), m->spec.parameter_count() * 2);
}

TEST(ModelLoad, TiedEmbeddingsShareTheTensor) {
  auto m = model::load_model((fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models/qwen2").string());
  EXPECT_EQ(m->lm_head, m->embed);
  EXPECT_NE(m->layers[0].q_bias, nullptr);
}

TEST(ModelLoad, ShardedIndex) {
  TempModel t;
  fs::rename(t.dir / "model.safetensors", t.dir / "model-00001-of-00001.safetensors");
  model::SafetensorsFile f((t.dir / "model-00001-of-00001.safetensors").string());
  nlohmann::json idx = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  for (const auto& [name, _] : f.tensors()) idx["weight_map"][name] = "model-00001-of-00001.safetensors";
  t.write("model.safetensors.index.json", idx.dump());
  auto m = model::load_model(t.dir.string());
  EXPECT_EQ(m->layers.size(), 2u);
}

TEST(ModelLoad, TruncatedWeights) {
  TempModel t;
  std::string bytes = t.read("model.safetensors");
  t.write("model.safetensors", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(load_error(t.dir).find("outside the"), std::string::npos) << load_error(t.dir);
  t.write("model.safetensors", bytes.substr(0, 5));
  EXPECT_NE(load_error(t.dir).find("truncated safetensors file"), std::string::npos);
}

TEST(ModelLoad, BadConfigJson) {
  TempModel t;
  t.write("config.json", "{\"model_type\": \"llama\", ");
  const std::string e = load_error(t.dir);
  EXPECT_NE(e.find("config.json: invalid JSON"), std::string::npos) << e;
}

TEST(ModelLoad, UnknownArchitecture) {
  TempModel t;
  auto cfg = nlohmann::json::parse(t.read("config.json"));
  cfg["model_type"] = "rwkv";
  t.write("config.json", cfg.dump());
  EXPECT_NE(load_error(t.dir).find("unknown model_type \"rwkv\""), std::string::npos);
}

TEST(ModelLoad, MissingAndMisshapenTensor) {
  TempModel t;
  auto cfg = nlohmann::json::parse(t.read("config.json"));
  cfg["num_hidden_layers"] = 3;  // the file has only 2 layers
  t.write("config.json", cfg.dump());
  EXPECT_NE(load_error(t.dir).find("missing tensor \"model.layers.2.input_layernorm.weight\""), std::string::npos)
      << load_error(t.dir);
  cfg["num_hidden_layers"] = 2;
  cfg["intermediate_size"] = 128;  // the file has 160
  t.write("config.json", cfg.dump());
  const std::string e = load_error(t.dir);
  EXPECT_NE(e.find("tensor \"model.layers.0.mlp.gate_proj.weight\" has shape [160, 64], expected [128, 64]"),
            std::string::npos) << e;
}

TEST(ModelLoad, MissingFiles) {
  TempModel t;
  fs::remove(t.dir / "model.safetensors");
  EXPECT_NE(load_error(t.dir).find("no model.safetensors"), std::string::npos);
  EXPECT_NE(load_error(t.dir / "nope").find("not a directory"), std::string::npos);
}

TEST(ModelLoad, CliGivesOneLineAndNonZeroExit) {
  TempModel t;
  t.write("config.json", "[1, 2");
  auto r = synaptix::testing::run_cli("inspect --model " + t.dir.string());
  const std::string& out = r.output;
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(out.rfind("error: ", 0), 0u) << out;
  EXPECT_NE(out.find("invalid JSON"), std::string::npos) << out;
}

// The same weights stored as f32 and as f16 run through the same kernels (converted on the fly) and still
// match the reference logits: bf16 values are exact in f32, and in f16 wherever they lie in its exponent range
// (f16 keeps 11 mantissa bits to bf16's 8), as nearly all of the fixture's weights do.
TEST(ModelLoad, F32AndF16WeightsMatchTheReference) {
  for (DType dt : {DType::F32, DType::F16}) {
    TempModel t;
    std::map<std::string, model::TensorData> out;
    {
      model::SafetensorsFile src((kLlama / "model.safetensors").string());
      for (const auto& [name, ref] : src.tensors()) {
        model::TensorData d{dt, ref.shape, {}};
        d.bytes.resize(static_cast<size_t>(ref.numel()) * dtype_size(dt));
        for (int64_t i = 0; i < ref.numel(); ++i) {
          const float f = bf16_to_f32(static_cast<const uint16_t*>(ref.data)[i]);
          if (dt == DType::F32) reinterpret_cast<float*>(d.bytes.data())[i] = f;
          else reinterpret_cast<uint16_t*>(d.bytes.data())[i] = f32_to_f16(f);
        }
        out.emplace(name, std::move(d));
      }
    }
    model::write_safetensors((t.dir / "model.safetensors").string(), out);
    auto m = model::load_model(t.dir.string());
    EXPECT_EQ(m->embed->dtype, dt);
    auto r = synaptix::testing::run_cli("verify --model " + t.dir.string() + " --reference " +
                                        (kLlama / "reference.safetensors").string());
    EXPECT_EQ(r.exit_code, 0) << dtype_name(dt) << ": " << r.output;
  }
}
