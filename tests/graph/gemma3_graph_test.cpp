// The op graph of Gemma 3 270M (the published config's shapes): sliding-window and global attention as
// separate ops, the pre/post norms, and no fused SiLU MLP op for its GELU-tanh MLP.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "synaptix/graph/op_graph.h"
#include "synaptix/model/spec.h"

namespace synaptix::graph {
namespace {

model::Spec gemma3_270m() {
  nlohmann::json c = {{"architectures", {"Gemma3ForCausalLM"}}, {"model_type", "gemma3_text"},
                      {"hidden_size", 640},  {"intermediate_size", 2048},
                      {"num_hidden_layers", 18}, {"num_attention_heads", 4},
                      {"num_key_value_heads", 1}, {"head_dim", 256},
                      {"vocab_size", 262144}, {"max_position_embeddings", 32768},
                      {"query_pre_attn_scalar", 256}, {"rope_theta", 1000000.0},
                      {"rope_local_base_freq", 10000.0}, {"sliding_window", 512},
                      {"hidden_activation", "gelu_pytorch_tanh"}, {"torch_dtype", "bfloat16"}};
  return model::parse_spec(c, "gemma-3-270m config");
}

const Op* find(const OpGraph& g, const std::string& name) {
  for (const auto& op : g.ops)
    if (op.name == name) return &op;
  return nullptr;
}

TEST(Gemma3Graph, SlidingAndGlobalAttentionAreSeparateOps) {
  const auto s = gemma3_270m();
  const auto g = decode_graph(s, decode_buckets()[0], 2048);
  const Op* local = find(g, "layers.*.self_attn.sliding_attention");
  const Op* global = find(g, "layers.*.self_attn.attention");
  ASSERT_NE(local, nullptr);
  ASSERT_NE(global, nullptr);
  EXPECT_EQ(local->count, 15);  // layers 5, 11, 17 are global (pattern 6)
  EXPECT_EQ(global->count, 3);
  EXPECT_EQ(local->ctx, 512);
  EXPECT_EQ(global->ctx, 2048);
}

TEST(Gemma3Graph, NormsAroundBothSublayersAndNoFusedSiluMlp) {
  const auto g = decode_graph(gemma3_270m(), decode_buckets()[0], 128);
  for (const char* n : {"layers.*.post_attention_layernorm", "layers.*.post_feedforward_layernorm"}) {
    const Op* op = find(g, n);
    ASSERT_NE(op, nullptr) << n;
    EXPECT_EQ(op->kind, OpKind::RmsNorm) << n;
    EXPECT_EQ(op->count, 18) << n;
  }
  const Op* pre = find(g, "layers.*.pre_feedforward_layernorm");
  ASSERT_NE(pre, nullptr);
  EXPECT_EQ(pre->kind, OpKind::AddRmsNorm);
  EXPECT_EQ(find(g, "layers.*.mlp.gate_up_silu"), nullptr);
  ASSERT_NE(find(g, "layers.*.mlp.gate_proj"), nullptr);
  const Op* qk = find(g, "layers.*.self_attn.qk_norm");
  ASSERT_NE(qk, nullptr);
  EXPECT_EQ(qk->n, 256);
}

}  // namespace
}  // namespace synaptix::graph
