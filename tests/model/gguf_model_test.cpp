// GGUF models: the fixture models written as GGUF the way llama.cpp's convert_hf_to_gguf.py writes them (Q/K
// rows permuted for llama, Gemma norms stored as 1 + w, norms in f32, matrices in bf16) load to the same Spec
// and the same logits as their Hugging Face directories; bad model metadata is refused by key and tensor.
#include "synaptix/model/gguf_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <map>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>

#include "support/cli.h"
#include "support/gguf_writer.h"
#include "support/prompt_logits.h"
#include "synaptix/core/error.h"
#include "synaptix/core/mapped_file.h"
#include "synaptix/engine/cpu_executor.h"
#include "synaptix/model/model.h"
#include "synaptix/model/safetensors.h"

using namespace synaptix;
using test::GgufWriter;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(SYNAPTIX_SHARED_DIR) / "fixtures/models";

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("synaptix_ggufm_" + std::to_string(::getpid()) + "_" + name)).string();
}

// The converter's tensor names (gguf-py tensor_mapping.py), written out here independently of gguf_model.cpp.
std::string converted_name(const std::string& hf, bool gemma) {
  static const std::map<std::string, std::string> global = {
      {"model.embed_tokens.weight", "token_embd.weight"}, {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"}};
  if (auto it = global.find(hf); it != global.end()) return it->second;
  static const std::map<std::string, std::string> layer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},   {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.weight", "attn_k.weight"},   {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.weight", "attn_v.weight"},   {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"}, {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
      {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"}};
  const std::string p = "model.layers.";
  const size_t dot = hf.find('.', p.size());
  const std::string n = hf.substr(p.size(), dot - p.size()), rest = hf.substr(dot + 1);
  if (rest == "post_attention_layernorm.weight") return "blk." + n + (gemma ? ".post_attention_norm.weight" : ".ffn_norm.weight");
  return "blk." + n + "." + layer.at(rest);
}

// convert_hf_to_gguf.py's LlamaModel.permute: rows (head, half, i) -> (head, i, half).
std::vector<uint16_t> permute_rows(const uint16_t* w, int64_t rows, int64_t cols, int64_t heads) {
  std::vector<uint16_t> out(static_cast<size_t>(rows * cols));
  const int64_t hd = rows / heads, half = hd / 2;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < half; ++i)
        std::memcpy(&out[static_cast<size_t>((h * hd + 2 * i + j) * cols)], w + (h * hd + j * half + i) * cols,
                    static_cast<size_t>(cols) * 2);
  return out;
}

// Writes fixture `name` as a GGUF file, as convert_hf_to_gguf.py would at --outtype bf16.
void convert_fixture(const std::string& name, const std::string& out) {
  const fs::path dir = kFixtures / name;
  const json c = json::parse(read_text_file((dir / "config.json").string()));
  const std::string mt = c["model_type"];
  const bool gemma = mt == "gemma3_text", llama = mt == "llama";
  const std::string arch = gemma ? "gemma3" : mt;
  GgufWriter w;
  w.kv_str("general.architecture", arch);
  auto k = [&](const char* s) { return arch + "." + s; };
  const int64_t layers = c["num_hidden_layers"], heads = c["num_attention_heads"], kv = c["num_key_value_heads"];
  w.kv_u32(k("block_count"), static_cast<uint32_t>(layers));
  w.kv_u32(k("context_length"), c["max_position_embeddings"].get<uint32_t>());
  w.kv_u32(k("embedding_length"), c["hidden_size"].get<uint32_t>());
  w.kv_u32(k("feed_forward_length"), c["intermediate_size"].get<uint32_t>());
  w.kv_u32(k("attention.head_count"), static_cast<uint32_t>(heads));
  w.kv_u32(k("attention.head_count_kv"), static_cast<uint32_t>(kv));
  w.kv_f32(k("attention.layer_norm_rms_epsilon"), c["rms_norm_eps"].get<float>());
  const json& rp = c["rope_parameters"];
  w.kv_f32(k("rope.freq_base"), (gemma ? rp["full_attention"] : rp)["rope_theta"].get<float>());
  if (c.contains("head_dim")) {
    w.kv_u32(k("attention.key_length"), c["head_dim"].get<uint32_t>());
    w.kv_u32(k("attention.value_length"), c["head_dim"].get<uint32_t>());
  }
  if (llama) {
    w.kv_u32(k("vocab_size"), c["vocab_size"].get<uint32_t>());
    w.kv_u32(k("rope.dimension_count"), c["head_dim"].get<uint32_t>());
  }
  if (gemma) {
    w.kv_u32(k("attention.sliding_window"), c["sliding_window"].get<uint32_t>());
    w.kv_f32(k("rope.freq_base_swa"), rp["sliding_attention"]["rope_theta"].get<float>());
    std::vector<uint8_t> pattern;
    for (const auto& t : c["layer_types"]) pattern.push_back(t == "sliding_attention");
    w.kv_array<uint8_t>(k("attention.sliding_window_pattern"), GgufWriter::Bool, pattern);
  }
  w.kv_u32("tokenizer.ggml.bos_token_id", c["bos_token_id"].get<uint32_t>());
  w.kv_u32("tokenizer.ggml.eos_token_id", c["eos_token_id"].get<uint32_t>());

  model::SafetensorsFile st((dir / "model.safetensors").string());
  for (const auto& [hf, t] : st.tensors()) {
    std::vector<uint64_t> dims(t.shape.rbegin(), t.shape.rend());
    const auto* bf = static_cast<const uint16_t*>(t.data);
    const int64_t n = t.numel();
    if (t.shape.size() == 1) {  // norms and biases: f32, Gemma's norms shifted by 1
      std::vector<float> v(static_cast<size_t>(n));
      const bool shift = gemma && hf.ends_with("norm.weight");
      for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = bf16_to_f32(bf[i]) + (shift ? 1.0f : 0.0f);
      w.tensor_f32(converted_name(hf, gemma), dims, v);
      continue;
    }
    std::vector<uint16_t> m(bf, bf + n);
    if (llama && hf.ends_with("q_proj.weight")) m = permute_rows(bf, t.shape[0], t.shape[1], heads);
    if (llama && hf.ends_with("k_proj.weight")) m = permute_rows(bf, t.shape[0], t.shape[1], kv);
    std::vector<uint8_t> bytes(m.size() * 2);
    std::memcpy(bytes.data(), m.data(), bytes.size());
    w.tensor(converted_name(hf, gemma), dims, 30 /* BF16 */, bytes);
  }
  w.save(out);
}

std::vector<int32_t> reference_ids(const std::string& name) {
  model::SafetensorsFile ref((kFixtures / name / "reference.safetensors").string());
  const auto* t = ref.find("input_ids");
  const auto* p = static_cast<const int32_t*>(t->data);
  return {p, p + t->numel()};
}

}  // namespace

class GgufFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufFixture, SameSpecAndLogitsAsHuggingFaceDirectory) {
  const std::string name = GetParam();
  const std::string path = temp_path(name + ".gguf");
  convert_fixture(name, path);
  auto hf = model::load_model((kFixtures / name).string());
  auto gg = model::load_model(path);
  const model::Spec &a = hf->spec, &b = gg->spec;
  EXPECT_EQ(b.family, a.family);
  EXPECT_EQ(b.vocab_size, a.vocab_size);
  EXPECT_EQ(b.hidden_size, a.hidden_size);
  EXPECT_EQ(b.intermediate_size, a.intermediate_size);
  EXPECT_EQ(b.num_layers, a.num_layers);
  EXPECT_EQ(b.num_heads, a.num_heads);
  EXPECT_EQ(b.num_kv_heads, a.num_kv_heads);
  EXPECT_EQ(b.head_dim, a.head_dim);
  EXPECT_EQ(b.max_position_embeddings, a.max_position_embeddings);
  EXPECT_EQ(b.rms_norm_eps, a.rms_norm_eps);  // the f32 key read back as the decimal config.json has
  EXPECT_EQ(b.rope_theta, a.rope_theta);
  EXPECT_EQ(b.tie_word_embeddings, a.tie_word_embeddings);
  EXPECT_EQ(b.attention_bias, a.attention_bias);
  EXPECT_EQ(b.qk_norm, a.qk_norm);
  EXPECT_EQ(b.sliding_window, a.sliding_window);
  EXPECT_EQ(b.layer_sliding, a.layer_sliding);
  EXPECT_EQ(b.sliding_rope_theta, a.sliding_rope_theta);
  EXPECT_EQ(b.post_norms, a.post_norms);
  EXPECT_EQ(b.mlp_activation, a.mlp_activation);
  EXPECT_EQ(b.attention_scale(), a.attention_scale());
  EXPECT_EQ(b.embedding_scale, a.embedding_scale);
  EXPECT_EQ(b.bos_token_id, a.bos_token_id);
  EXPECT_EQ(b.eos_token_ids, a.eos_token_ids);
  EXPECT_EQ(b.norm_weight_offset, 0.0);  // the file holds 1 + w for Gemma
  EXPECT_EQ(gg->weight_bytes(), hf->weight_bytes() +
                                    [&] {  // norms and biases are f32 here, bf16 there
                                      int64_t extra = 0;
                                      for (const auto& o : gg->owned)
                                        if (o->ref.dtype == DType::F32) extra += o->ref.numel() * 2;
                                      return extra;
                                    }());

  const auto ids = reference_ids(name);
  const auto want = test::prompt_logits(*hf, ids);
  const auto got = test::prompt_logits(*gg, ids);
  ASSERT_EQ(got.size(), want.size());
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(got[i] - want[i])));
    max_ref = std::max(max_ref, static_cast<double>(std::fabs(want[i])));
  }
  EXPECT_LE(max_diff, 1e-5 * max_ref) << name << ": GGUF logits differ from the Hugging Face directory's";
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Families, GgufFixture, ::testing::Values("llama", "qwen2", "qwen3", "gemma3"));

TEST(GgufModel, VerifyCommandTakesAGgufFile) {
  // The CLI's --model accepts the file: every logit of the reference prompt and the greedy continuation
  // against transformers' own (reference.safetensors).
  const std::string path = temp_path("verify-llama.gguf");
  convert_fixture("llama", path);
  auto r = synaptix::testing::run_cli("verify --model " + path + " --reference " +
                            (kFixtures / "llama" / "reference.safetensors").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  fs::remove(path);
}

TEST(GgufModel, TensorNames) {
  using model::Family;
  EXPECT_EQ(model::gguf_tensor_name("model.layers.3.self_attn.q_proj.weight", Family::Llama), "blk.3.attn_q.weight");
  EXPECT_EQ(model::gguf_tensor_name("model.layers.0.self_attn.k_proj.bias", Family::Qwen2), "blk.0.attn_k.bias");
  EXPECT_EQ(model::gguf_tensor_name("model.layers.12.post_attention_layernorm.weight", Family::Llama),
            "blk.12.ffn_norm.weight");
  EXPECT_EQ(model::gguf_tensor_name("model.layers.12.post_attention_layernorm.weight", Family::Gemma3),
            "blk.12.post_attention_norm.weight");
  EXPECT_EQ(model::gguf_tensor_name("model.layers.1.pre_feedforward_layernorm.weight", Family::Gemma3),
            "blk.1.ffn_norm.weight");
  EXPECT_EQ(model::gguf_tensor_name("lm_head.weight", Family::Qwen3), "output.weight");
  EXPECT_EQ(model::gguf_tensor_name("model.layers.1.mlp.experts.0.w1.weight", Family::Llama), "");
}

namespace {
// A tiny llama GGUF with F32 tensors, for the bad-metadata cases: `omit` leaves out a key or a tensor, `extra`
// adds keys, `ffn_rows` sets the rows of ffn_up. Returns what load_model throws ("" when it loads).
std::string error_of_model(const std::string& omit = "", const std::function<void(GgufWriter&)>& extra = {},
                           uint64_t ffn_rows = 16) {
  GgufWriter w;
  auto u32 = [&](const std::string& k, uint32_t v) {
    if (k != omit) w.kv_u32(k, v);
  };
  if (omit != "general.architecture") w.kv_str("general.architecture", "llama");
  u32("llama.block_count", 1);
  u32("llama.context_length", 64);
  u32("llama.embedding_length", 8);
  u32("llama.feed_forward_length", 16);
  u32("llama.attention.head_count", 2);
  if (omit != "llama.attention.layer_norm_rms_epsilon") w.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  u32("llama.vocab_size", 4);
  if (extra) extra(w);
  auto t = [&](const std::string& n, std::vector<uint64_t> dims) {
    if (n == omit) return;
    uint64_t count = 1;
    for (auto d : dims) count *= d;
    w.tensor_f32(n, dims, std::vector<float>(count, 0.5f));
  };
  t("token_embd.weight", {8, 4});
  t("output_norm.weight", {8});
  t("blk.0.attn_norm.weight", {8});
  t("blk.0.attn_q.weight", {8, 8});
  t("blk.0.attn_k.weight", {8, 8});
  t("blk.0.attn_v.weight", {8, 8});
  t("blk.0.attn_output.weight", {8, 8});
  t("blk.0.ffn_norm.weight", {8});
  t("blk.0.ffn_gate.weight", {8, 16});
  t("blk.0.ffn_up.weight", {8, ffn_rows});
  t("blk.0.ffn_down.weight", {16, 8});
  const std::string path = temp_path("badmodel.gguf");
  w.save(path);
  std::string msg;
  try {
    auto m = model::load_model(path);
  } catch (const Error& e) {
    msg = e.what();
  }
  fs::remove(path);
  return msg;
}

void expect_error(const std::string& msg, const std::string& part) {
  EXPECT_NE(msg.find("badmodel.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find(part), std::string::npos) << msg;
}
}  // namespace

TEST(GgufModel, TinyValidModelLoads) {
  EXPECT_EQ(error_of_model(), "");
}

TEST(GgufModel, RefusesBadModelMetadataAndTensors) {
  expect_error(error_of_model("general.architecture"), "missing metadata key \"general.architecture\" (a string)");
  expect_error(error_of_model("llama.block_count"), "missing metadata key \"llama.block_count\" (an integer)");
  expect_error(error_of_model("llama.attention.layer_norm_rms_epsilon"),
               "missing metadata key \"llama.attention.layer_norm_rms_epsilon\" (a number)");
  expect_error(error_of_model("blk.0.attn_k.weight"),
               "missing tensor \"blk.0.attn_k.weight\" (model.layers.0.self_attn.k_proj.weight, expected shape [8, 8])");
  expect_error(error_of_model("", {}, 32),
               "tensor \"blk.0.ffn_up.weight\" has shape [32, 8] (GGUF dims reversed), expected [16, 8]");
  expect_error(error_of_model("", [](GgufWriter& w) { w.kv_u32("llama.attention.head_count_kv", 3); }),
               "num_attention_heads (2) must be a multiple of num_key_value_heads (3)");
  expect_error(error_of_model("", [](GgufWriter& w) { w.kv_u32("llama.expert_count", 8); }),
               "llama.expert_count is 8: mixture-of-experts GGUF files are not supported");
  expect_error(error_of_model("", [](GgufWriter& w) { w.kv_str("llama.rope.scaling.type", "su"); }),
               "llama.rope.scaling.type is \"su\", expected none, linear or yarn");
  expect_error(error_of_model("", [](GgufWriter& w) { w.kv_str("llama.attention.key_length", "x"); }),
               "\"llama.attention.key_length\" has type string, expected an integer");
  expect_error(error_of_model("", [](GgufWriter& w) { w.tensor_f32("rope_freqs.weight", {4}, {1, 1, 1, 1}); }),
               "rope_freqs.weight");
  GgufWriter w;
  w.kv_str("general.architecture", "gpt2");
  const std::string path = temp_path("badmodel.gguf");
  w.save(path);
  try {
    model::load_model(path);
    ADD_FAILURE() << "gpt2 loaded";
  } catch (const Error& e) {
    expect_error(e.what(), "general.architecture is \"gpt2\", expected one of llama, qwen2, qwen3, gemma3");
  }
  fs::remove(path);
}
