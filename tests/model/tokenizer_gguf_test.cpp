// Tokenizers built from GGUF tokenizer metadata. Two references:
//  - the Hugging Face fixtures (../shared/fixtures/tokenizers), turned into the metadata a GGUF converter
//    writes for them, must encode every fixture case to the library's ids;
//  - the real GGUF models under models/ must encode every text of tests/model/data/gguf_tokenizer_cases_*.jsonl
//    to the ids llama.cpp's llama-tokenize gave for it (made by tests/model/data/make_gguf_tokenizer_cases.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/model/builtin_chat_templates.h"
#include "synaptix/model/chat_template.h"
#include "synaptix/model/gguf.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/model/tokenizer_gguf.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using synaptix::model::GgufTokenizerMetadata;
using synaptix::model::GgufTokenType;
using synaptix::model::Tokenizer;

const std::string kFixtures = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/tokenizers/";
const fs::path kRepo = fs::path(__FILE__).parent_path().parent_path().parent_path();

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> read_jsonl(const fs::path& path) {
  std::vector<json> rows;
  std::istringstream in(read_all(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(json::parse(line));
  }
  return rows;
}

std::string ids_str(const std::vector<int32_t>& ids) { return json(ids).dump(); }

// The metadata convert_hf_to_gguf.py writes for a tokenizer.json: tokens by id, added tokens as control
// tokens, <0xXX> as byte tokens, merges as "left right".
GgufTokenizerMetadata metadata_from_fixture(const std::string& style, const std::string& model,
                                            const std::string& pre) {
  const json tj = json::parse(read_all(kFixtures + style + "/tokenizer.json"));
  GgufTokenizerMetadata m;
  m.source = style + " (as GGUF metadata)";
  m.model = model;
  m.pre = pre;
  const json& vocab = tj["model"]["vocab"];
  m.tokens.resize(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) m.tokens.at(it.value().get<size_t>()) = it.key();
  m.token_types.assign(m.tokens.size(), static_cast<int32_t>(GgufTokenType::Normal));
  for (size_t i = 0; i < m.tokens.size(); ++i) {
    const std::string& t = m.tokens[i];
    if (t.size() == 6 && t.rfind("<0x", 0) == 0 && t.back() == '>') {
      m.token_types[i] = static_cast<int32_t>(GgufTokenType::Byte);
    }
  }
  for (const json& a : tj["added_tokens"]) {
    m.token_types.at(a["id"].get<size_t>()) = static_cast<int32_t>(GgufTokenType::Control);
  }
  for (const json& merge : tj["model"]["merges"]) {
    m.merges.push_back(merge.is_string() ? merge.get<std::string>()
                                         : merge[0].get<std::string>() + " " + merge[1].get<std::string>());
  }
  return m;
}

std::map<std::string, int32_t> token_ids(const GgufTokenizerMetadata& m) {
  std::map<std::string, int32_t> ids;
  for (size_t i = 0; i < m.tokens.size(); ++i) ids[m.tokens[i]] = static_cast<int32_t>(i);
  return ids;
}

void expect_fixture_cases(const Tokenizer& tok, const std::string& style) {
  const auto cases = read_jsonl(kFixtures + style + "/cases.jsonl");
  ASSERT_GE(cases.size(), 20u);
  for (const json& c : cases) {
    const auto text = c["text"].get<std::string>();
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids_str(tok.encode(text, false)), ids_str(ids)) << "text: " << json(text).dump();
    EXPECT_EQ(tok.decode(ids), c["decoded"].get<std::string>()) << "ids: " << ids_str(ids);
  }
}

TEST(GgufTokenizer, ByteLevelBpeFromMetadataEncodesTheFixtureCases) {
  GgufTokenizerMetadata m = metadata_from_fixture("byte_level", "gpt2", "gpt-2");
  m.eos_id = token_ids(m).at("<|endoftext|>");
  Tokenizer tok = Tokenizer::from_gguf(m);
  expect_fixture_cases(tok, "byte_level");
  EXPECT_EQ(tok.eos_token(), "<|endoftext|>");
  EXPECT_TRUE(tok.is_special(*tok.eos_id()));
  EXPECT_EQ(tok.encode("a", true), tok.encode("a", false));  // gpt-2 files add no BOS unless they say so
}

TEST(GgufTokenizer, Llama3PreTokenizerFromMetadataEncodesTheFixtureCases) {
  GgufTokenizerMetadata m = metadata_from_fixture("llama3_style", "gpt2", "llama-bpe");
  m.add_bos = false;  // "llama-bpe" files add BOS by default; the fixture cases have none
  expect_fixture_cases(Tokenizer::from_gguf(m), "llama3_style");
}

TEST(GgufTokenizer, SentencePieceByScoresEncodesTheFixtureCases) {
  // The fixture is a merges-list BPE; as a SentencePiece vocabulary each merged token scores by its merge's
  // rank (earlier merges score higher), which is how such a vocabulary was trained.
  GgufTokenizerMetadata m = metadata_from_fixture("sentencepiece_style", "llama", "");
  const auto ids = token_ids(m);
  m.scores.assign(m.tokens.size(), -1e9f);
  for (size_t rank = m.merges.size(); rank-- > 0;) {
    const std::string& merge = m.merges[rank];
    const size_t sp = merge.find(' ', 1);
    m.scores.at(static_cast<size_t>(ids.at(merge.substr(0, sp) + merge.substr(sp + 1)))) = -static_cast<float>(rank);
  }
  m.bos_id = ids.at("<s>");
  m.eos_id = ids.at("</s>");
  m.unknown_id = ids.at("<unk>");
  Tokenizer tok = Tokenizer::from_gguf(m);
  expect_fixture_cases(tok, "sentencepiece_style");
  // SentencePiece files add BOS by default; the prefix space goes after every special token.
  const auto with = tok.encode("Hello</s>Hello", true);
  ASSERT_FALSE(with.empty());
  EXPECT_EQ(with.front(), ids.at("<s>"));
  const auto hello = tok.encode("Hello", false);
  std::vector<int32_t> expected = hello;
  expected.insert(expected.begin(), ids.at("<s>"));
  expected.push_back(ids.at("</s>"));
  expected.insert(expected.end(), hello.begin(), hello.end());
  EXPECT_EQ(ids_str(with), ids_str(expected));
}

TEST(GgufTokenizer, SentencePieceWithoutSpacePrefixKeepsTheTextAsIs) {
  GgufTokenizerMetadata m = metadata_from_fixture("sentencepiece_style", "llama", "");
  m.scores.assign(m.tokens.size(), 0.0f);
  m.add_bos = false;
  const Tokenizer prefixed = Tokenizer::from_gguf(m);
  m.add_space_prefix = false;
  const Tokenizer plain = Tokenizer::from_gguf(m);
  for (const std::string text : {"Hello world", "a b", " x"}) {
    const auto p = prefixed.encode(text, false);
    const auto q = plain.encode(text, false);
    ASSERT_FALSE(p.empty());
    ASSERT_FALSE(q.empty());
    EXPECT_NE(ids_str(p), ids_str(q)) << text;  // the prefixed form starts with \u2581
    EXPECT_EQ(plain.decode(q), text);
    EXPECT_EQ(prefixed.decode(p), text);  // the added space is stripped again
  }
}

TEST(GgufTokenizer, SentencePieceSpellsUnknownCharactersAsBytes) {
  GgufTokenizerMetadata m = metadata_from_fixture("sentencepiece_style", "llama", "");
  m.scores.assign(m.tokens.size(), 0.0f);
  Tokenizer tok = Tokenizer::from_gguf(m);
  const auto ids = token_ids(m);
  // U+4E2D is not in the vocabulary: its three UTF-8 bytes come out as <0xE4><0xB8><0xAD>.
  const auto out = tok.encode("\u4e2d", false);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], ids.at("\u2581"));
  EXPECT_EQ(out[1], ids.at("<0xE4>"));
  EXPECT_EQ(out[2], ids.at("<0xB8>"));
  EXPECT_EQ(out[3], ids.at("<0xAD>"));
  EXPECT_EQ(tok.decode(out), "\u4e2d");
}

TEST(GgufTokenizer, RejectsBadMetadataWithClearErrors) {
  auto expect_error = [](GgufTokenizerMetadata m, const std::string& needle) {
    try {
      Tokenizer::from_gguf(m);
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const synaptix::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const GgufTokenizerMetadata base = metadata_from_fixture("byte_level", "gpt2", "gpt-2");
  auto m = base;
  m.model = "bert";
  expect_error(m, "tokenizer.ggml.model");
  m = base;
  m.pre = "no-such-pre";
  expect_error(m, "tokenizer.ggml.pre");
  m = base;
  m.merges.clear();
  expect_error(m, "tokenizer.ggml.merges");
  m = base;
  m.tokens.clear();
  expect_error(m, "tokenizer.ggml.tokens");
  m = base;
  m.token_types.pop_back();
  expect_error(m, "tokenizer.ggml.token_type");
  m = base;
  m.token_types[5] = 9;
  expect_error(m, "tokenizer.ggml.token_type[5]");
  m = base;
  m.eos_id = static_cast<int64_t>(m.tokens.size());
  expect_error(m, "tokenizer.ggml.eos_token_id");
  m = base;
  m.add_bos = true;
  expect_error(m, "bos_token_id");
  m = base;
  m.model = "llama";
  m.scores = {1.0f};
  expect_error(m, "tokenizer.ggml.scores");
}

// ---- the real models against llama.cpp ----

struct RealModel {
  const char* file;   // under models/
  const char* cases;  // under tests/model/data/
};

class GgufModelTokenizer : public ::testing::TestWithParam<RealModel> {
 protected:
  void SetUp() override {
    path_ = kRepo / "models" / GetParam().file;
    if (!fs::exists(path_)) GTEST_SKIP() << path_ << " is absent (scripts/install-models.sh installs it)";
  }
  fs::path path_;
};

TEST_P(GgufModelTokenizer, EncodesEveryCaseLikeLlamaCpp) {
  const Tokenizer tok = Tokenizer::load(path_.string());
  const auto cases = read_jsonl(kRepo / "tests/model/data" / GetParam().cases);
  ASSERT_GE(cases.size(), 200u);
  size_t exact = 0;
  for (const json& c : cases) {
    const auto text = c["text"].get<std::string>();
    const auto expected = ids_str(c["ids"].get<std::vector<int32_t>>());
    const auto got = ids_str(tok.encode(text, true));
    if (got == expected) {
      ++exact;
    } else {
      ADD_FAILURE() << "text: " << json(text).dump() << "\n  ours:      " << got << "\n  llama.cpp: " << expected;
    }
  }
  EXPECT_EQ(exact, cases.size()) << exact << " of " << cases.size() << " cases match llama.cpp exactly";
}

TEST_P(GgufModelTokenizer, DecodeGivesBackTheText) {
  const Tokenizer tok = Tokenizer::load(path_.string());
  for (const json& c : read_jsonl(kRepo / "tests/model/data" / GetParam().cases)) {
    const auto text = c["text"].get<std::string>();
    EXPECT_EQ(tok.decode(tok.encode(text, false)), text);
  }
}

TEST_P(GgufModelTokenizer, CarriesTheChatTemplateAndSpecialTokensOfTheFile) {
  const Tokenizer tok = Tokenizer::load(path_.string());
  const synaptix::model::GgufFile file(path_.string());
  // The file's template; a file without one whose vocabulary has Gemma's turn tokens gets Gemma's turns.
  const std::string own = file.find_string("tokenizer.chat_template").value_or("");
  EXPECT_EQ(tok.chat_template(), own.empty() && tok.token_id("<start_of_turn>") ? synaptix::model::gemma_turn_template() : own);
  EXPECT_EQ(tok.vocab_size(), static_cast<int64_t>(file.string_array("tokenizer.ggml.tokens").size()));
  ASSERT_TRUE(tok.bos_id() && tok.eos_id());
  EXPECT_EQ(*tok.bos_id(), file.find_int("tokenizer.ggml.bos_token_id"));
  EXPECT_EQ(*tok.eos_id(), file.find_int("tokenizer.ggml.eos_token_id"));
  EXPECT_EQ(tok.token_id(tok.eos_token()), tok.eos_id());
  EXPECT_TRUE(tok.is_special(*tok.eos_id()));
  if (tok.chat_template().empty()) return;
  // The template renders a conversation whose turn markers encode as single special tokens.
  const synaptix::model::ChatTemplate tmpl(tok.chat_template());
  const json messages = json::array({{{"role", "user"}, {"content", "Hello!"}}});
  const json extra = {{"bos_token", tok.bos_token()}, {"eos_token", tok.eos_token()}};
  const std::string text = tmpl.render(messages, true, extra);
  const auto ids = tok.encode(text, false);
  const auto specials = std::count_if(ids.begin(), ids.end(), [&](int32_t id) { return tok.is_special(id); });
  EXPECT_GE(specials, 2) << text;
  EXPECT_EQ(tok.decode(ids), text);
}

INSTANTIATE_TEST_SUITE_P(
    Models, GgufModelTokenizer,
    ::testing::Values(RealModel{"SmolLM2-135M-Instruct.Q4_1.gguf", "gguf_tokenizer_cases_SmolLM2-135M-Instruct.jsonl"},
                      RealModel{"gemma-3-270m-q4_k_m.gguf", "gguf_tokenizer_cases_gemma-3-270m-q4_k_m.jsonl"}),
    [](const ::testing::TestParamInfo<RealModel>& info) { return info.index == 0 ? "SmolLM2" : "Gemma3"; });

}  // namespace
