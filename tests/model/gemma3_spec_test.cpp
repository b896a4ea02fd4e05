// Gemma 3 configs: the transformers-5 form (rope_parameters per layer type, layer_types), the form published
// checkpoints carry (rope_theta, rope_local_base_freq, sliding_window_pattern), the multimodal "gemma3" form
// with its text_config, and the weights of a Gemma3ForCausalLM directory (the fixture made by transformers).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/model/model.h"
#include "synaptix/model/spec.h"
#include "synaptix/model/synth.h"

using namespace synaptix;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
const fs::path kGemma = fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models/gemma3";

json fixture_config() { return json::parse(read_text_file((kGemma / "config.json").string())); }

// The fixture's config rewritten in the keys that published (transformers 4) Gemma 3 configs use.
json legacy_config() {
  json j = fixture_config();
  j.erase("rope_parameters");
  j.erase("layer_types");
  j.erase("_sliding_window_pattern");
  j["rope_theta"] = 1000000.0;
  j["rope_local_base_freq"] = 10000.0;
  j["sliding_window_pattern"] = 4;
  j["rope_scaling"] = nullptr;
  j["torch_dtype"] = j["dtype"];
  j.erase("dtype");
  return j;
}

std::string error_of(const json& j) {
  try {
    model::parse_spec(j, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_same_gemma3(const model::Spec& a, const model::Spec& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.layer_sliding, b.layer_sliding);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_DOUBLE_EQ(a.rope_theta, b.rope_theta);
  EXPECT_DOUBLE_EQ(a.sliding_rope_theta, b.sliding_rope_theta);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_DOUBLE_EQ(a.query_pre_attn_scalar, b.query_pre_attn_scalar);
  EXPECT_DOUBLE_EQ(a.embedding_scale, b.embedding_scale);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
}
}  // namespace

TEST(Gemma3Spec, FixtureConfig) {
  const auto s = model::load_spec((kGemma / "config.json").string());
  EXPECT_EQ(s.family, model::Family::Gemma3);
  EXPECT_EQ(s.model_type, "gemma3_text");
  EXPECT_EQ(s.mlp_activation, model::Activation::GeluTanh);
  EXPECT_TRUE(s.qk_norm);
  EXPECT_TRUE(s.post_norms);
  EXPECT_DOUBLE_EQ(s.norm_weight_offset, 1.0);
  EXPECT_DOUBLE_EQ(s.embedding_scale, 8.0);  // sqrt(64)
  EXPECT_DOUBLE_EQ(s.query_pre_attn_scalar, 16.0);
  EXPECT_DOUBLE_EQ(s.attention_scale(), 0.25);
  EXPECT_DOUBLE_EQ(s.attn_logit_softcap, 0.0);  // null in the config: off
  EXPECT_DOUBLE_EQ(s.final_logit_softcap, 0.0);
  EXPECT_EQ(s.layer_sliding, (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(s.window_for_layer(0), 6);
  EXPECT_EQ(s.window_for_layer(3), 0);
  EXPECT_DOUBLE_EQ(s.rope_theta, 1000000.0);
  EXPECT_DOUBLE_EQ(s.sliding_rope_theta, 10000.0);
  EXPECT_TRUE(s.layer_uses_sliding_rope(0));
  EXPECT_FALSE(s.layer_uses_sliding_rope(3));
  EXPECT_EQ(s.rope_scaling.type, "default");
  EXPECT_TRUE(s.tie_word_embeddings);
}

TEST(Gemma3Spec, PublishedConfigKeysGiveTheSameSpec) {
  const auto current = model::load_spec((kGemma / "config.json").string());
  const auto legacy = model::parse_spec(legacy_config(), "config.json");
  expect_same_gemma3(current, legacy);
  // Without sliding_window_pattern the default is 6: layers 5, 11, ... are global.
  json j = legacy_config();
  j.erase("sliding_window_pattern");
  j["num_hidden_layers"] = 12;
  const auto s = model::parse_spec(j, "config.json");
  for (int64_t l = 0; l < 12; ++l) EXPECT_EQ(s.layer_sliding[l], l != 5 && l != 11) << "layer " << l;
}

TEST(Gemma3Spec, MultimodalConfigReadsItsTextConfig) {
  json text = fixture_config();
  text.erase("dtype");
  json mm = {{"model_type", "gemma3"}, {"text_config", text}, {"torch_dtype", "bfloat16"}, {"eos_token_id", 0}};
  const auto s = model::parse_spec(mm, "config.json");
  EXPECT_EQ(s.model_type, "gemma3");
  expect_same_gemma3(model::load_spec((kGemma / "config.json").string()), s);

  // A published multimodal config names only a few text keys; the rest are transformers' defaults, and its
  // rope_scaling applies to the global layers only.
  json sparse = {{"model_type", "gemma3"},
                 {"torch_dtype", "bfloat16"},
                 {"text_config",
                  {{"hidden_size", 2560}, {"intermediate_size", 10240}, {"model_type", "gemma3_text"},
                   {"num_hidden_layers", 34}, {"rope_scaling", {{"factor", 8.0}, {"rope_type", "linear"}}},
                   {"sliding_window", 1024}}}};
  const auto d = model::parse_spec(sparse, "config.json");
  EXPECT_EQ(d.num_heads, 8);
  EXPECT_EQ(d.num_kv_heads, 4);
  EXPECT_EQ(d.head_dim, 256);
  EXPECT_EQ(d.vocab_size, 262208);
  EXPECT_DOUBLE_EQ(d.query_pre_attn_scalar, 256.0);
  EXPECT_EQ(d.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(d.rope_scaling.factor, 8.0);
  EXPECT_EQ(d.sliding_rope_scaling.type, "default");
  EXPECT_DOUBLE_EQ(d.rope_theta, 1000000.0);
  EXPECT_DOUBLE_EQ(d.sliding_rope_theta, 10000.0);
  EXPECT_EQ(d.window_for_layer(0), 1024);
  EXPECT_EQ(d.window_for_layer(5), 0);
  // sqrt(2560) = 50.596..., rounded to bf16 as the reference's embed_scale buffer is.
  EXPECT_DOUBLE_EQ(d.embedding_scale, 50.5);
}

TEST(Gemma3Spec, SoftcapsAndBadKeysAreReported) {
  json j = fixture_config();
  j["attn_logit_softcapping"] = 50.0;
  j["final_logit_softcapping"] = 30.0;
  const auto s = model::parse_spec(j, "config.json");
  EXPECT_DOUBLE_EQ(s.attn_logit_softcap, 50.0);
  EXPECT_DOUBLE_EQ(s.final_logit_softcap, 30.0);

  json act = fixture_config();
  act["hidden_activation"] = "relu";
  EXPECT_NE(error_of(act).find("hidden_activation \"relu\""), std::string::npos) << error_of(act);
  json cap = fixture_config();
  cap["final_logit_softcapping"] = -1.0;
  EXPECT_NE(error_of(cap).find("final_logit_softcapping"), std::string::npos) << error_of(cap);
  json rope = fixture_config();
  rope["rope_parameters"]["chunked_attention"] = {{"rope_theta", 1.0}};
  EXPECT_NE(error_of(rope).find("chunked_attention"), std::string::npos) << error_of(rope);
  json no_text = {{"model_type", "gemma3"}};
  EXPECT_NE(error_of(no_text).find("text_config"), std::string::npos) << error_of(no_text);
}

TEST(Gemma3Model, LoadsPreAndPostNorms) {
  const auto m = model::load_model(kGemma.string());
  ASSERT_EQ(m->layers.size(), 4u);
  for (const auto& L : m->layers) {
    ASSERT_NE(L.post_attn_norm, nullptr);
    ASSERT_NE(L.post_mlp_norm, nullptr);
    ASSERT_NE(L.q_norm, nullptr);
    EXPECT_NE(L.mlp_norm, L.post_attn_norm);
    EXPECT_EQ(L.post_mlp_norm->shape, (std::vector<int64_t>{64}));
  }
  EXPECT_EQ(m->lm_head, m->embed);
}

// The multimodal checkpoint keeps the text model under language_model.model.*: the same weights, renamed
// (the safetensors header rewritten, the data bytes untouched), load as the same text model.
TEST(Gemma3Model, LoadsTheTextModelOfAMultimodalCheckpoint) {
  const std::string bytes = read_text_file((kGemma / "model.safetensors").string());
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  json header = json::parse(bytes.substr(8, n));
  json renamed;
  for (auto& [name, v] : header.items()) renamed[name == "__metadata__" ? name : "language_model." + name] = v;
  // Another tower's tensor, after the text model's bytes: not read.
  const uint64_t data_bytes = bytes.size() - 8 - n;
  renamed["vision_tower.patch.weight"] = {{"dtype", "BF16"}, {"shape", {64}}, {"data_offsets", {data_bytes, data_bytes + 128}}};
  std::string h = renamed.dump();
  const fs::path dir = fs::temp_directory_path() / ("sx_gemma3_mm_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "model.safetensors", std::ios::binary);
    const uint64_t hn = h.size();
    out.write(reinterpret_cast<const char*>(&hn), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    out.write(bytes.data() + 8 + n, static_cast<std::streamsize>(data_bytes));
    out.write(std::string(128, '\0').data(), 128);
  }
  json text = fixture_config();
  json mm = {{"model_type", "gemma3"}, {"text_config", text}};
  std::ofstream(dir / "config.json") << mm.dump();
  const auto m = model::load_model(dir.string());
  const auto ref = model::load_model(kGemma.string());
  EXPECT_EQ(m->spec.model_type, "gemma3");
  ASSERT_EQ(m->layers.size(), ref->layers.size());
  EXPECT_EQ(std::memcmp(m->layers[2].post_mlp_norm->data, ref->layers[2].post_mlp_norm->data, 64 * 2), 0);
  EXPECT_EQ(std::memcmp(m->embed->data, ref->embed->data, ref->embed->nbytes), 0);
  fs::remove_all(dir);
}

// A synthetic Gemma 3 (synth --like) has unit norms as the others do: its (1 + w) norms store w = 0.
TEST(Gemma3Model, SynthesizedNormsAreUnitScales) {
  const fs::path dir = fs::temp_directory_path() / ("sx_gemma3_synth_" + std::to_string(::getpid()));
  model::synthesize_model(fixture_config(), dir.string(), 1);
  const auto m = model::load_model(dir.string());
  for (const auto* t : {m->final_norm, m->layers[0].attn_norm, m->layers[1].post_mlp_norm, m->layers[2].q_norm})
    for (int64_t i = 0; i < t->numel(); ++i) EXPECT_EQ(static_cast<const uint16_t*>(t->data)[i], 0) << t->name;
  fs::remove_all(dir);
}
