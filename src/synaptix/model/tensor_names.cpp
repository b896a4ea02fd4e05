#include "synaptix/model/tensor_names.h"

namespace synaptix::model {

std::vector<ExpectedTensor> expected_tensors(const Spec& s) {
  std::vector<ExpectedTensor> out;
  const int64_t h = s.hidden_size;
  auto add = [&](std::string name, std::vector<int64_t> shape, TensorRole role) {
    out.push_back({std::move(name), std::move(shape), role});
  };
  add("model.embed_tokens.weight", {s.vocab_size, h}, TensorRole::Embedding);
  for (int64_t l = 0; l < s.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {h}, TensorRole::Norm);
    add(p + "self_attn.q_proj.weight", {s.q_dim(), h}, TensorRole::Matrix);
    add(p + "self_attn.k_proj.weight", {s.kv_dim(), h}, TensorRole::Matrix);
    add(p + "self_attn.v_proj.weight", {s.kv_dim(), h}, TensorRole::Matrix);
    add(p + "self_attn.o_proj.weight", {h, s.q_dim()}, TensorRole::Matrix);
    if (s.attention_bias) {
      add(p + "self_attn.q_proj.bias", {s.q_dim()}, TensorRole::Bias);
      add(p + "self_attn.k_proj.bias", {s.kv_dim()}, TensorRole::Bias);
      add(p + "self_attn.v_proj.bias", {s.kv_dim()}, TensorRole::Bias);
    }
    if (s.qk_norm) {
      add(p + "self_attn.q_norm.weight", {s.head_dim}, TensorRole::Norm);
      add(p + "self_attn.k_norm.weight", {s.head_dim}, TensorRole::Norm);
    }
    add(p + "post_attention_layernorm.weight", {h}, TensorRole::Norm);
    if (s.post_norms) {  // gemma3: post_attention_layernorm normalises the attention output instead
      add(p + "pre_feedforward_layernorm.weight", {h}, TensorRole::Norm);
      add(p + "post_feedforward_layernorm.weight", {h}, TensorRole::Norm);
    }
    if (s.layer_is_moe(l)) {
      const bool mixtral = s.family == Family::Mixtral;
      const std::string moe = p + (mixtral ? "block_sparse_moe." : "mlp.");
      add(moe + "gate.weight", {s.num_experts, h}, TensorRole::Matrix);
      for (int64_t e = 0; e < s.num_experts; ++e) {
        const std::string ep = moe + "experts." + std::to_string(e) + ".";
        const int64_t f = s.moe_intermediate_size;
        add(ep + (mixtral ? "w1" : "gate_proj") + ".weight", {f, h}, TensorRole::Matrix);
        add(ep + (mixtral ? "w3" : "up_proj") + ".weight", {f, h}, TensorRole::Matrix);
        add(ep + (mixtral ? "w2" : "down_proj") + ".weight", {h, f}, TensorRole::Matrix);
      }
    } else {
      add(p + "mlp.gate_proj.weight", {s.intermediate_size, h}, TensorRole::Matrix);
      add(p + "mlp.up_proj.weight", {s.intermediate_size, h}, TensorRole::Matrix);
      add(p + "mlp.down_proj.weight", {h, s.intermediate_size}, TensorRole::Matrix);
    }
  }
  add("model.norm.weight", {h}, TensorRole::Norm);
  if (!s.tie_word_embeddings) add("lm_head.weight", {s.vocab_size, h}, TensorRole::Matrix);
  return out;
}

}  // namespace synaptix::model
