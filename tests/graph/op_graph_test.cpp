#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "synaptix/core/error.h"
#include "synaptix/graph/op_graph.h"
#include "synaptix/model/spec.h"

namespace synaptix::graph {
namespace {

const Op& find(const OpGraph& g, const std::string& name) {
  for (const auto& op : g.ops)
    if (op.name == name) return op;
  throw std::runtime_error("no op " + name);
}

// The shapes of Llama 3.2 1B (hidden 2048, 16 layers, 32 heads, 8 KV heads, MLP 8192, vocab 128256).
model::Spec llama_1b() {
  nlohmann::json c = {{"architectures", {"LlamaForCausalLM"}},
                      {"model_type", "llama"},
                      {"hidden_size", 2048},
                      {"intermediate_size", 8192},
                      {"num_hidden_layers", 16},
                      {"num_attention_heads", 32},
                      {"num_key_value_heads", 8},
                      {"head_dim", 64},
                      {"vocab_size", 128256},
                      {"max_position_embeddings", 131072},
                      {"rms_norm_eps", 1e-5},
                      {"rope_theta", 500000.0},
                      {"tie_word_embeddings", true},
                      {"torch_dtype", "bfloat16"},
                      {"bos_token_id", 128000},
                      {"eos_token_id", 128001}};
  return model::parse_spec(c, "llama-3.2-1b config");
}

}  // namespace

TEST(OpGraph, LlamaFixtureDecodeShapes) {
  auto s = model::load_spec(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama/config.json");
  auto g = decode_graph(s, decode_buckets()[0], 256);
  const Op& q = find(g, "layers.*.self_attn.q_proj");
  EXPECT_EQ(q.kind, OpKind::Linear);
  EXPECT_EQ(q.m, 1);
  EXPECT_EQ(q.n, 64);
  EXPECT_EQ(q.k, 64);
  EXPECT_EQ(q.w_dtype, DType::BF16);
  EXPECT_EQ(q.count, 2);
  EXPECT_EQ(find(g, "layers.*.self_attn.k_proj").n, 32);  // 2 KV heads x 16
  const Op& down = find(g, "layers.*.mlp.down_proj");
  EXPECT_EQ(down.n, 64);
  EXPECT_EQ(down.k, 160);
  EXPECT_EQ(find(g, "lm_head").n, 512);
  const Op& att = find(g, "layers.*.self_attn.attention");
  EXPECT_EQ(att.n, 4);
  EXPECT_EQ(att.kv_heads, 2);
  EXPECT_EQ(att.k, 16);
  EXPECT_EQ(att.ctx, 256);
  EXPECT_EQ(q.signature(), "linear m=1 n=64 k=64 w=bf16");
  // Weights: 64*64*2 bytes; activations 64*4 in, 64*4 out.
  EXPECT_DOUBLE_EQ(q.min_bytes(), 64.0 * 64 * 2 + 64 * 4 + 64 * 4);
  EXPECT_DOUBLE_EQ(q.flops(), 2.0 * 64 * 64);
}

TEST(OpGraph, BucketsAndSequenceBuckets) {
  auto s = model::load_spec(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/llama/config.json");
  EXPECT_EQ(sequence_buckets(s), (std::vector<int64_t>{128, 256}));
  ASSERT_EQ(decode_buckets().size(), 4u);
  const int64_t lo[] = {1, 2, 5, 17}, hi[] = {1, 4, 16, 64};
  for (size_t i = 0; i < 4; ++i) {
    auto g = decode_graph(s, decode_buckets()[i], 128);
    const Op& q = find(g, "layers.*.self_attn.q_proj");
    EXPECT_EQ(q.m_lo, lo[i]);
    EXPECT_EQ(q.m, hi[i]);
  }
  EXPECT_EQ(find(decode_graph(s, decode_buckets()[1], 128), "layers.*.self_attn.q_proj").signature(),
            "linear m=2..4 n=64 k=64 w=bf16");
  auto p = prefill_graph(s, 256, 256);
  EXPECT_EQ(p.phase, Phase::Prefill);
  EXPECT_EQ(find(p, "layers.*.mlp.gate_proj").m, 256);
  EXPECT_EQ(find(p, "layers.*.mlp.gate_proj").m_lo, 65);
  auto all = all_graphs(s, 256);
  EXPECT_EQ(all.size(), 4u * 2 + 2 * 2);  // 4 decode buckets x 2 sequence buckets + 2 prefill buckets at each
  EXPECT_EQ(all[8].batch.name, "65-128");
  EXPECT_EQ(find(all[8], "layers.*.mlp.gate_proj").m, 128);
  EXPECT_EQ(all[10].batch.name, "129-256");
  EXPECT_EQ(find(all[10], "layers.*.mlp.gate_proj").m_lo, 129);
  EXPECT_THROW(prefill_graph(s, 64, 256), Error);
}

TEST(OpGraph, PrefillBucketsDoubleUpToTheChunk) {
  const auto names = [](int64_t chunk) {
    std::vector<std::string> out;
    for (const auto& b : prefill_buckets(chunk)) out.push_back(b.name + ":" + std::to_string(b.lo) + ".." + std::to_string(b.hi));
    return out;
  };
  EXPECT_EQ(names(65), (std::vector<std::string>{"65-65:65..65"}));
  EXPECT_EQ(names(128), (std::vector<std::string>{"65-128:65..128"}));
  EXPECT_EQ(names(200), (std::vector<std::string>{"65-128:65..128", "129-200:129..200"}));
  EXPECT_EQ(names(512), (std::vector<std::string>{"65-128:65..128", "129-256:129..256", "257-512:257..512"}));
  EXPECT_THROW(prefill_buckets(64), Error);
  EXPECT_EQ(rows_bucket_name(1, 1), "1");
  EXPECT_EQ(rows_bucket_name(17, 64), "17-64");
  EXPECT_EQ(rows_bucket_name(65, 256), "65-256");  // a recipe tuned before the split: one bucket
  EXPECT_TRUE(is_prefill_bucket_name("prefill"));
  EXPECT_TRUE(is_prefill_bucket_name("129-256"));
  EXPECT_FALSE(is_prefill_bucket_name("17-64"));
  EXPECT_FALSE(is_prefill_bucket_name("1"));
  EXPECT_FALSE(is_prefill_bucket_name("65-x"));
}

TEST(OpGraph, Llama1bShapedLinearOps) {
  auto s = llama_1b();
  auto g = decode_graph(s, decode_buckets()[0], 2048);
  EXPECT_EQ(find(g, "layers.*.self_attn.q_proj").n, 2048);
  EXPECT_EQ(find(g, "layers.*.self_attn.k_proj").n, 512);
  EXPECT_EQ(find(g, "layers.*.self_attn.o_proj").k, 2048);
  EXPECT_EQ(find(g, "layers.*.mlp.gate_proj").n, 8192);
  EXPECT_EQ(find(g, "layers.*.mlp.down_proj").k, 8192);
  EXPECT_EQ(find(g, "lm_head").n, 128256);
  EXPECT_EQ(find(g, "layers.*.self_attn.q_proj").count, 16);
  EXPECT_EQ(find(g, "layers.*.self_attn.attention").ctx, 2048);
  EXPECT_EQ(sequence_buckets(s), (std::vector<int64_t>{128, 512, 2048, 8192, 131072}));
  // Distinct linear signatures: (2048x2048: q and o), (512x2048: k and v), (8192x2048: gate and up),
  // (2048x8192: down) at 4 decode buckets and the 2 prefill buckets; lm_head at the 4 decode buckets only (a
  // prefill chunk samples its last token: the batch-1 lm_head).
  auto ops = distinct_ops(all_graphs(s, 256), {OpKind::Linear});
  EXPECT_EQ(ops.size(), 4u * 6 + 4);
  const auto pre = prefill_graph(s, 256, 2048);
  EXPECT_EQ(find(pre, "lm_head").m, 1);
  EXPECT_EQ(find(pre, "layers.*.mlp.gate_up_silu").m, 256);
  // Batch-1 decode weight bytes of the linear ops = the bf16 parameter bytes minus the embedding (tied: the
  // lm_head reads it).
  double bytes = 0;
  for (const auto& op : g.ops)
    if (op.kind == OpKind::Linear) bytes += static_cast<double>(op.n * op.k * 2 * op.count);
  const double per_layer = 2.0 * (2048.0 * 2048 * 2 + 512.0 * 2048 * 2 + 3 * 8192.0 * 2048);
  EXPECT_DOUBLE_EQ(bytes, 16 * per_layer + 2.0 * 128256 * 2048);
}

TEST(OpGraph, MoeExpertsFromMixtralFixture) {
  auto s = model::load_spec(std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/models/mixtral-moe/config.json");
  ASSERT_TRUE(s.is_moe());
  auto g = decode_graph(s, decode_buckets()[3], 128);
  const Op& e = find(g, "layers.*.mlp.experts.*.gate_proj");
  EXPECT_EQ(e.kind, OpKind::MoeExpert);
  EXPECT_EQ(e.k, s.hidden_size);
  // 64 tokens x top-k spread over the experts.
  EXPECT_EQ(e.m, std::min<int64_t>(64, (64 * s.num_experts_per_tok + s.num_experts - 1) / s.num_experts));
  EXPECT_EQ(find(g, "layers.*.mlp.gate").n, s.num_experts);
}

}  // namespace synaptix::graph
