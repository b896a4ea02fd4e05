// The real GGUF files scripts/install-models.sh installs (skipped when absent): SmolLM2-135M-Instruct (llama
// architecture, Q4_1 with a Q8_0 embedding) and Gemma 3 270M (Q4_K_M: Q5_0, Q4_K, Q6_K, Q8_0). Their Specs match
// the published configs; their first blocks are where gguf-py's reader finds them; and the perplexity of the
// first 128-token window of wiki.test.raw matches llama.cpp's on the same file (the reference runtime for the
// format, peers/llama.cpp at 0c1e570: llama-perplexity -c 128 -b 128 --no-repack, which also tokenized the text).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <span>

#include "synaptix/engine/cpu_executor.h"
#include "synaptix/model/gguf_model.h"
#include "synaptix/model/model.h"

using namespace synaptix;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = fs::path(SYNAPTIX_SOURCE_DIR) / "models";
const fs::path kQuantData = fs::path(SYNAPTIX_SOURCE_DIR) / "tests/quant/data";
const std::string kSmol = (kModels / "SmolLM2-135M-Instruct.Q4_1.gguf").string();
const std::string kGemma = (kModels / "gemma-3-270m-q4_k_m.gguf").string();

#define SKIP_IF_ABSENT(path) \
  if (!fs::exists(path)) GTEST_SKIP() << path << " is not installed (scripts/install-models.sh)"

// llama-tokenize's ids for the first 128 tokens of shared/data/wiki.test.raw (its first 6000 bytes).
const std::vector<int32_t> kSmolWikiIds = {
    446, 6356, 389, 9226, 352, 446, 216, 2738, 6356, 389, 9226, 352, 314, 354, 2321, 4771, 3297, 8552, 284,
    16984, 17523, 1673, 909, 761, 253, 16204, 3394, 29, 48, 45608, 1791, 335, 260, 8552, 3086, 378, 8593, 281,
    216, 34, 32, 32, 32, 1673, 669, 436, 3922, 411, 253, 45608, 1791, 281, 260, 1238, 3488, 707, 2855, 411,
    15399, 5970, 3139, 3297, 527, 436, 4940, 281, 216, 34, 32, 32, 33, 418, 260, 7598, 5620, 22660, 1673, 909,
    761, 253, 16204, 1791, 281, 260, 8552, 3086, 22083, 2322, 1413, 277, 281, 216, 34, 32, 32, 34, 1673, 533,
    216, 34, 32, 32, 36, 389, 9226, 352, 16176, 253, 1791, 347, 476, 26984, 476, 281, 260, 12592, 476, 25617,
    13285, 637, 99, 10124, 476, 282, 260, 8552, 3086, 378};
const std::vector<int32_t> kGemmaWikiIds = {  // BOS first, as Gemma's tokenizer adds it
    2, 578, 9877, 151936, 589, 578, 236743, 251, 107, 9877, 151936, 589, 563, 614, 5422, 4103, 1031, 13617,
    532, 26470, 13387, 783, 1293, 1053, 496, 15083, 1392, 236772, 236940, 44116, 3853, 580, 506, 13617, 3605,
    669, 8599, 528, 236743, 236778, 236771, 236771, 236771, 783, 1174, 691, 6641, 684, 496, 44116, 3853, 528,
    506, 1441, 5165, 1190, 5267, 684, 20420, 75474, 1031, 837, 691, 6984, 528, 236743, 236778, 236771, 236771,
    236770, 657, 506, 12194, 5762, 25239, 783, 1293, 1053, 496, 15083, 3853, 528, 506, 13617, 3605, 22121,
    3415, 145767, 528, 236743, 236778, 236771, 236771, 236778, 783, 799, 236743, 236778, 236771, 236771,
    236812, 151936, 589, 30473, 496, 3853, 618, 623, 35359, 623, 528, 506, 11635, 623, 74419, 756, 236751,
    16976, 623, 529, 506, 13617, 3605, 669, 8099, 49401, 2895, 668};

// llama-perplexity's first-chunk value: the mean negative log-likelihood of tokens 65..127 given the logits
// of positions 64..126, exponentiated.
double first_chunk_perplexity(const model::Model& m, const std::vector<int32_t>& ids) {
  auto ex = engine::make_cpu_executor(m, {16, 8});
  std::vector<int32_t> table(16);
  std::iota(table.begin(), table.end(), 0);
  const int64_t V = m.spec.vocab_size, n = static_cast<int64_t>(ids.size()), first = n / 2;
  // The first half without logits (the LM head of a 262k vocabulary is most of the work), then the scored half.
  std::vector<float> logits;
  const std::span<const int32_t> all(ids);
  engine::SeqChunk head{all.subspan(0, static_cast<size_t>(first)), 0, table, false};
  ex->step({&head, 1}, logits);
  engine::SeqChunk tail{all.subspan(static_cast<size_t>(first)), first, table, true};
  ex->step({&tail, 1}, logits);
  double nll = 0;
  for (int64_t j = first; j < n - 1; ++j) {
    const float* row = logits.data() + (j - first) * V;
    const float mx = *std::max_element(row, row + V);
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - mx));
    nll += -(static_cast<double>(row[ids[static_cast<size_t>(j + 1)]] - mx) - std::log(sum));
  }
  return std::exp(nll / static_cast<double>(n - 1 - first));
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The first blocks of `tensor` in the file are the ones gguf-py's reader returned (make_vectors.py).
void expect_blocks_as_gguf_py(const model::GgufFile& f, const std::string& stem, const std::string& tensor) {
  const auto want = read_bytes(kQuantData / ("real_" + stem + "__" + tensor + ".blocks"));
  ASSERT_FALSE(want.empty()) << stem << " " << tensor;
  const model::GgufTensor* t = f.find_tensor(tensor);
  ASSERT_NE(t, nullptr) << tensor;
  ASSERT_GE(t->nbytes, static_cast<int64_t>(want.size()));
  EXPECT_TRUE(std::equal(want.begin(), want.end(), t->data)) << tensor << ": bytes differ from gguf-py's";
}

std::map<std::string, int> type_counts(const model::GgufFile& f) {
  std::map<std::string, int> n;
  for (const auto& t : f.tensors()) ++n[std::string(t.format->name)];
  return n;
}

}  // namespace

TEST(GgufRealFile, SmolLM2SpecMatchesPublishedConfig) {
  SKIP_IF_ABSENT(kSmol);
  const model::GgufFile f(kSmol);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.tensors().size(), 272u);
  EXPECT_EQ(type_counts(f), (std::map<std::string, int>{{"F32", 61}, {"Q4_1", 210}, {"Q8_0", 1}}));
  expect_blocks_as_gguf_py(f, "SmolLM2-135M-Instruct.Q4_1", "token_embd.weight");
  expect_blocks_as_gguf_py(f, "SmolLM2-135M-Instruct.Q4_1", "blk.0.ffn_down.weight");
  // HuggingFaceTB/SmolLM2-135M-Instruct's config.json.
  const model::Spec s = model::gguf_spec(f);
  EXPECT_EQ(s.family, model::Family::Llama);
  EXPECT_EQ(s.num_layers, 30);
  EXPECT_EQ(s.hidden_size, 576);
  EXPECT_EQ(s.num_heads, 9);
  EXPECT_EQ(s.num_kv_heads, 3);
  EXPECT_EQ(s.head_dim, 64);
  EXPECT_EQ(s.intermediate_size, 1536);
  EXPECT_EQ(s.vocab_size, 49152);
  EXPECT_EQ(s.rope_theta, 100000.0);
  EXPECT_EQ(s.rms_norm_eps, 1e-5);
  EXPECT_EQ(s.max_position_embeddings, 8192);
  EXPECT_TRUE(s.tie_word_embeddings);
  EXPECT_FALSE(s.attention_bias);
  EXPECT_EQ(s.bos_token_id, 1);
  ASSERT_FALSE(s.eos_token_ids.empty());
  EXPECT_EQ(s.eos_token_ids.front(), 2);  // <|im_end|>
}

TEST(GgufRealFile, SmolLM2PerplexityMatchesLlamaCpp) {
  SKIP_IF_ABSENT(kSmol);
  auto m = model::load_model(kSmol);  // native: the file's Q4_1 and Q8_0 blocks (tests/quant/gguf_native_test.cpp)
  EXPECT_EQ(m->embed->dtype, DType::Q8_0);
  EXPECT_EQ(m->lm_head, m->embed);
  const double ppl = first_chunk_perplexity(*m, kSmolWikiIds);
  RecordProperty("perplexity", std::to_string(ppl));
  std::printf("SmolLM2 Q4_1 first-window perplexity: %.4f (llama.cpp 9.2994)\n", ppl);
  // llama.cpp: [1]9.2994. It multiplies Q4_1 blocks by activations it quantizes to 8 bits; we run the same
  // blocks with f32 activations, so the two agree closely but not exactly. Q and K rows left in
  // the converter's permuted order give a perplexity in the hundreds.
  EXPECT_NEAR(ppl, 9.2994, 9.2994 * 0.03) << "perplexity of the first 128-token window";
}

TEST(GgufRealFile, Gemma3SpecMatchesPublishedConfig) {
  SKIP_IF_ABSENT(kGemma);
  const model::GgufFile f(kGemma);
  EXPECT_EQ(type_counts(f),
            (std::map<std::string, int>{{"F32", 109}, {"Q4_K", 27}, {"Q5_0", 81}, {"Q6_K", 9}, {"Q8_0", 10}}));
  for (const char* t : {"token_embd.weight", "blk.0.attn_k.weight", "blk.0.attn_output.weight", "blk.0.ffn_down.weight"})
    expect_blocks_as_gguf_py(f, "gemma-3-270m-q4_k_m", t);
  // google/gemma-3-270m's config.json.
  const model::Spec s = model::gguf_spec(f);
  EXPECT_EQ(s.family, model::Family::Gemma3);
  EXPECT_EQ(s.num_layers, 18);
  EXPECT_EQ(s.hidden_size, 640);
  EXPECT_EQ(s.num_heads, 4);
  EXPECT_EQ(s.num_kv_heads, 1);
  EXPECT_EQ(s.head_dim, 256);
  EXPECT_EQ(s.intermediate_size, 2048);
  EXPECT_EQ(s.vocab_size, 262144);
  EXPECT_EQ(s.rope_theta, 1000000.0);
  EXPECT_EQ(s.sliding_rope_theta, 10000.0);
  EXPECT_EQ(s.rms_norm_eps, 1e-6);
  EXPECT_EQ(s.sliding_window, 512);
  EXPECT_EQ(s.max_position_embeddings, 32768);
  EXPECT_EQ(s.attention_scale(), 1.0 / 16.0);  // query_pre_attn_scalar 256
  EXPECT_TRUE(s.tie_word_embeddings);
  EXPECT_TRUE(s.post_norms);
  EXPECT_TRUE(s.qk_norm);
  EXPECT_EQ(s.norm_weight_offset, 0.0);
  ASSERT_EQ(s.layer_sliding.size(), 18u);
  for (int64_t l = 0; l < 18; ++l) EXPECT_EQ(s.layer_sliding[l], (l + 1) % 6 != 0) << "layer " << l;
  EXPECT_EQ(s.bos_token_id, 2);
}

TEST(GgufRealFile, Gemma3PerplexityMatchesLlamaCpp) {
  SKIP_IF_ABSENT(kGemma);
  auto m = model::load_model(kGemma);
  const double ppl = first_chunk_perplexity(*m, kGemmaWikiIds);
  RecordProperty("perplexity", std::to_string(ppl));
  std::printf("Gemma 3 Q4_K_M first-window perplexity: %.4f (llama.cpp 9.9294)\n", ppl);
  EXPECT_NEAR(ppl, 9.9294, 9.9294 * 0.03) << "perplexity of the first 128-token window (llama.cpp: 9.9294)";
}
