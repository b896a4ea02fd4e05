// The CPU executor on the Gemma 3 fixture (made by transformers' Gemma3ForCausalLM) in the config form that
// published checkpoints carry (rope_theta, rope_local_base_freq, sliding_window_pattern) gives the reference
// logits as the transformers-5 form does; with final_logit_softcapping set, it gives cap * tanh(logit / cap)
// of them.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/model/model.h"
#include "support/prompt_logits.h"

using namespace synaptix;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
const fs::path kGemma = fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models/gemma3";

// A model directory of the fixture's weights under another config.json.
struct ConfigVariant {
  fs::path dir;
  explicit ConfigVariant(const json& config) {
    dir = fs::temp_directory_path() / ("sx_gemma3_cfg_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::remove(dir / "model.safetensors");
    fs::create_symlink(kGemma / "model.safetensors", dir / "model.safetensors");
    std::ofstream(dir / "config.json") << config.dump();
  }
  ~ConfigVariant() { fs::remove_all(dir); }
};

json published_form() {
  json j = json::parse(read_text_file((kGemma / "config.json").string()));
  j.erase("rope_parameters");
  j.erase("layer_types");
  j.erase("_sliding_window_pattern");
  j["rope_theta"] = 1000000.0;
  j["rope_local_base_freq"] = 10000.0;
  j["sliding_window_pattern"] = 4;
  j["rope_scaling"] = nullptr;
  return j;
}

struct Reference {
  model::SafetensorsFile file{(kGemma / "reference.safetensors").string()};
  std::vector<int32_t> ids() const {
    const auto* t = file.find("input_ids");
    const auto* p = static_cast<const int32_t*>(t->data);
    return {p, p + t->shape[0]};
  }
  const float* logits() const { return static_cast<const float*>(file.find("logits")->data); }
};
}  // namespace

TEST(Gemma3Executor, PublishedConfigFormMatchesTheReference) {
  Reference ref;
  ConfigVariant v(published_form());
  const auto m = model::load_model(v.dir.string());
  const auto got = test::prompt_logits(*m, ref.ids());
  double max_err = 0, max_ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    max_err = std::max(max_err, std::fabs(static_cast<double>(got[i]) - ref.logits()[i]));
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref.logits()[i])));
  }
  EXPECT_LE(max_err / max_ref, 1e-5) << "max abs err " << max_err;
}

TEST(Gemma3Executor, FinalLogitSoftcapCapsTheReferenceLogits) {
  Reference ref;
  json j = published_form();
  const double cap = 0.5;  // below the logits' range, so the cap bends them
  j["final_logit_softcapping"] = cap;
  ConfigVariant v(j);
  const auto m = model::load_model(v.dir.string());
  const auto got = test::prompt_logits(*m, ref.ids());
  double max_err = 0, max_ref = 0, max_got = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    max_err = std::max(max_err, std::fabs(got[i] - cap * std::tanh(ref.logits()[i] / cap)));
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref.logits()[i])));
    max_got = std::max(max_got, std::fabs(static_cast<double>(got[i])));
  }
  EXPECT_GT(max_ref, 2 * cap);
  EXPECT_LE(max_err, 1e-5);
  EXPECT_LE(max_got, cap);
}

// The executor walks the forward plan; weights that lack what a step of the plan needs are refused when the
// executor is made, naming the layer and the missing part, not met mid-step.
TEST(Gemma3Executor, WeightsMissingAPlannedStepAreRefusedAtConstruction) {
  auto m = model::load_model(kGemma.string());
  m->layers[2].post_mlp_norm = nullptr;
  try {
    engine::make_cpu_executor(*m, engine::KvConfig{});
    ADD_FAILURE() << "a layer without its post-MLP norm was accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("layer 2"), std::string::npos) << what;
    EXPECT_NE(what.find("post-MLP norm"), std::string::npos) << what;
  }
}
