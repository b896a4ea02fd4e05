#include "synaptix/model/synth.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "synaptix/core/dtype.h"
#include "synaptix/core/error.h"
#include "synaptix/core/thread_pool.h"
#include "synaptix/model/spec.h"
#include "synaptix/model/tensor_names.h"

namespace synaptix::model {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json llama(int64_t vocab, int64_t hidden, int64_t inter, int64_t layers, int64_t heads, int64_t kv_heads,
           double theta, int64_t ctx, bool tied) {
  return {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"vocab_size", vocab},
          {"hidden_size", hidden}, {"intermediate_size", inter}, {"num_hidden_layers", layers},
          {"num_attention_heads", heads}, {"num_key_value_heads", kv_heads}, {"hidden_act", "silu"},
          {"max_position_embeddings", ctx}, {"rms_norm_eps", 1e-5}, {"rope_theta", theta},
          {"tie_word_embeddings", tied}, {"torch_dtype", "bfloat16"}, {"bos_token_id", 128000},
          {"eos_token_id", 128001}};
}

}  // namespace

std::vector<std::string> preset_names() {
  return {"llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "qwen2.5-0.5b", "qwen2.5-7b", "mistral-7b", "mixtral-8x7b",
          "qwen3-30b-a3b"};
}

json preset_config(const std::string& name) {
  const json llama3_scaling = {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                               {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  if (name == "llama-3.2-1b") {
    json j = llama(128256, 2048, 8192, 16, 32, 8, 500000.0, 131072, true);
    j["head_dim"] = 64;
    j["rope_scaling"] = llama3_scaling;
    return j;
  }
  if (name == "llama-3.2-3b") {
    json j = llama(128256, 3072, 8192, 28, 24, 8, 500000.0, 131072, true);
    j["head_dim"] = 128;
    j["rope_scaling"] = llama3_scaling;
    return j;
  }
  if (name == "llama-3.1-8b") {
    json j = llama(128256, 4096, 14336, 32, 32, 8, 500000.0, 131072, false);
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
    return j;
  }
  if (name == "qwen2.5-0.5b" || name == "qwen2.5-7b") {
    const bool small = name == "qwen2.5-0.5b";
    json j = llama(small ? 151936 : 152064, small ? 896 : 3584, small ? 4864 : 18944, small ? 24 : 28,
                   small ? 14 : 28, small ? 2 : 4, 1000000.0, 32768, small);
    j["architectures"] = {"Qwen2ForCausalLM"};
    j["model_type"] = "qwen2";
    j["rms_norm_eps"] = 1e-6;
    j["sliding_window"] = 32768;
    j["use_sliding_window"] = false;
    j["max_window_layers"] = small ? 21 : 28;
    j["bos_token_id"] = 151643;
    j["eos_token_id"] = 151643;
    return j;
  }
  if (name == "mistral-7b") {
    json j = llama(32768, 4096, 14336, 32, 32, 8, 1000000.0, 32768, false);
    j["architectures"] = {"MistralForCausalLM"};
    j["model_type"] = "mistral";
    j["sliding_window"] = nullptr;
    j["bos_token_id"] = 1;
    j["eos_token_id"] = 2;
    return j;
  }
  if (name == "mixtral-8x7b") {
    json j = llama(32000, 4096, 14336, 32, 32, 8, 1000000.0, 32768, false);
    j["architectures"] = {"MixtralForCausalLM"};
    j["model_type"] = "mixtral";
    j["num_local_experts"] = 8;
    j["num_experts_per_tok"] = 2;
    j["sliding_window"] = nullptr;
    j["bos_token_id"] = 1;
    j["eos_token_id"] = 2;
    return j;
  }
  if (name == "qwen3-30b-a3b") {
    // Qwen3-30B-A3B: 128 experts, 8 per token, per-head q/k RMSNorm (qwen3).
    json j = llama(151936, 2048, 6144, 48, 32, 4, 1000000.0, 40960, false);
    j["architectures"] = {"Qwen3MoeForCausalLM"};
    j["model_type"] = "qwen3_moe";
    j["head_dim"] = 128;
    j["rms_norm_eps"] = 1e-6;
    j["num_experts"] = 128;
    j["num_experts_per_tok"] = 8;
    j["moe_intermediate_size"] = 768;
    j["norm_topk_prob"] = true;
    j["decoder_sparse_step"] = 1;
    j["mlp_only_layers"] = json::array();
    j["bos_token_id"] = 151643;
    j["eos_token_id"] = 151645;
    return j;
  }
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown preset \"", name, "\" (known: ", known, ")");
}

void synthesize_model(const json& config, const std::string& out_dir, uint64_t seed) {
  const Spec spec = parse_spec(config, out_dir + "/config.json");
  const auto tensors = expected_tensors(spec);
  fs::create_directories(out_dir);
  {
    std::ofstream cfg(fs::path(out_dir) / "config.json");
    if (!cfg) fail(out_dir, ": cannot write config.json");
    cfg << config.dump(2) << "\n";
  }
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t n = 2;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    header[t.name] = {{"dtype", "BF16"}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  header["__metadata__"] = {{"format", "pt"}, {"synaptix_synth_seed", std::to_string(seed)}};
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  const fs::path path = fs::path(out_dir) / "model.safetensors";
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(path.string(), ": cannot open for writing");
  const uint64_t len = h.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));

  std::vector<uint16_t> buf;
  uint64_t tensor_index = 0;
  for (const auto& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    buf.resize(static_cast<size_t>(n));
    if (t.role == TensorRole::Norm) {
      // Unit scale: a (1 + w) norm (gemma3's norm_weight_offset) stores 0.
      std::fill(buf.begin(), buf.end(), f32_to_bf16(static_cast<float>(1.0 - spec.norm_weight_offset)));
    } else {
      // Counter-based generator (splitmix64 of seed, tensor, index) so that threads fill disjoint ranges
      // deterministically; a sum of 4 uniforms approximates N(0, 1) well enough for timing and tuning.
      const float sd = t.role == TensorRole::Bias ? 0.01f : 0.02f;
      const uint64_t tseed = seed * 0x9E3779B97F4A7C15ull + (++tensor_index) * 0xD1B54A32D192ED03ull;
      ThreadPool::global().parallel_for(static_cast<size_t>(n), [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) {
          uint64_t z = tseed + i * 0x9E3779B97F4A7C15ull;
          z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
          z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
          z ^= z >> 31;
          float s = 0.0f;
          for (int k = 0; k < 4; ++k) s += static_cast<float>((z >> (16 * k)) & 0xffff) / 65535.0f;
          buf[i] = f32_to_bf16((s - 2.0f) * 1.7320508f * sd);  // var of sum of 4 U(0,1) = 1/3
        }
      }, 1 << 16);
    }
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size() * 2));
    if (!out) fail(path.string(), ": write failed (disk full?)");
  }
}

}  // namespace synaptix::model
