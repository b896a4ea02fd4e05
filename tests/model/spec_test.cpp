#include "synaptix/model/spec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/model/synth.h"

using namespace synaptix;
using nlohmann::json;

namespace {
const std::string kModels = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/";

std::string error_of(const json& j) {
  try {
    model::parse_spec(j, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Spec, LegacyAndCurrentRopeConfigsAgree) {
  auto a = model::load_spec(kModels + "llama3-rope-scaling/config.json");
  auto b = model::load_spec(kModels + "llama3-legacy-config/config.json");
  EXPECT_EQ(a.rope_scaling.type, "llama3");
  EXPECT_EQ(b.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(a.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(b.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(a.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(b.rope_scaling.factor, 8.0);
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings, 32);
  EXPECT_EQ(b.rope_scaling.original_max_position_embeddings, 32);
}

TEST(Spec, FamiliesParse) {
  auto q2 = model::load_spec(kModels + "qwen2/config.json");
  EXPECT_EQ(q2.family, model::Family::Qwen2);
  EXPECT_TRUE(q2.attention_bias);
  EXPECT_TRUE(q2.tie_word_embeddings);
  auto q3 = model::load_spec(kModels + "qwen3/config.json");
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_EQ(q3.head_dim, 32);
  EXPECT_NE(q3.head_dim * q3.num_heads, q3.hidden_size);
  auto mx = model::load_spec(kModels + "mixtral-moe/config.json");
  EXPECT_EQ(mx.num_experts, 4);
  EXPECT_EQ(mx.num_experts_per_tok, 2);
  EXPECT_EQ(mx.head_dim, mx.hidden_size / mx.num_heads);  // head_dim: null in the config
  auto qm = model::load_spec(kModels + "qwen3-moe/config.json");
  EXPECT_EQ(qm.num_experts, 8);
  EXPECT_EQ(qm.moe_intermediate_size, 48);
  EXPECT_TRUE(qm.norm_topk_prob);
  auto ms = model::load_spec(kModels + "mistral-sliding-window/config.json");
  EXPECT_EQ(ms.sliding_window, 8);
  EXPECT_EQ(ms.window_for_layer(0), 8);
  EXPECT_EQ(q2.window_for_layer(0), 0);
}

TEST(Spec, ClearErrors) {
  json base = json::parse(R"({"model_type":"llama","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,
                              "num_attention_heads":2,"intermediate_size":16})");
  EXPECT_EQ(error_of(base), "");
  json j = base;
  j["model_type"] = "gpt_neox";
  EXPECT_NE(error_of(j).find("unknown model_type \"gpt_neox\""), std::string::npos);
  j = base;
  j.erase("hidden_size");
  EXPECT_NE(error_of(j).find("missing key \"hidden_size\""), std::string::npos);
  j = base;
  j["vocab_size"] = "ten";
  EXPECT_NE(error_of(j).find("\"vocab_size\" is string, expected an integer"), std::string::npos);
  j = base;
  j["num_key_value_heads"] = 3;
  EXPECT_NE(error_of(j).find("multiple of num_key_value_heads"), std::string::npos);
  j = base;
  j["rope_scaling"] = {{"rope_type", "mystery"}};
  EXPECT_NE(error_of(j).find("unknown rope type \"mystery\""), std::string::npos);
  EXPECT_NE(error_of(json::array()).find("expected a JSON object"), std::string::npos);
}

// Every synth preset parses; the MoE ones keep their expert layout (what gpu-bench's active-bytes roofline
// and the executors read).
TEST(Spec, SynthPresetsParse) {
  for (const auto& name : model::preset_names()) {
    const model::Spec s = model::parse_spec(model::preset_config(name), name);
    EXPECT_GT(s.num_layers, 0) << name;
    EXPECT_EQ(s.num_heads % s.num_kv_heads, 0) << name;
  }
  const model::Spec q = model::parse_spec(model::preset_config("qwen3-30b-a3b"), "qwen3-30b-a3b");
  EXPECT_EQ(q.family, model::Family::Qwen3Moe);
  EXPECT_EQ(q.num_experts, 128);
  EXPECT_EQ(q.num_experts_per_tok, 8);
  EXPECT_EQ(q.moe_intermediate_size, 768);
  EXPECT_TRUE(q.norm_topk_prob);
  EXPECT_TRUE(q.layer_is_moe(0) && q.layer_is_moe(47));
  EXPECT_EQ(q.head_dim, 128);
  EXPECT_THROW(model::preset_config("no-such-model"), Error);
}
