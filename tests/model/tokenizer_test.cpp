// The tokenizer against the reference library's own outputs (../shared/fixtures): every fixture case must
// encode and decode exactly, every fixture model must encode its prompt to the reference input_ids.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "synaptix/core/error.h"
#include "synaptix/model/tokenizer.h"

namespace {

using nlohmann::json;
using synaptix::model::DecodeStream;
using synaptix::model::Tokenizer;

const std::string kShared = SYNAPTIX_SHARED_DIR;
const std::vector<std::string> kStyles = {"byte_level", "llama3_style", "sentencepiece_style"};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
  std::string decoded;
};

std::vector<Case> load_cases(const std::string& style) {
  std::vector<Case> cases;
  std::istringstream in(read_all(kShared + "/fixtures/tokenizers/" + style + "/cases.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = json::parse(line);
    cases.push_back({j["text"].get<std::string>(), j["ids"].get<std::vector<int32_t>>(), j["decoded"].get<std::string>()});
  }
  return cases;
}

std::string ids_str(const std::vector<int32_t>& ids) { return json(ids).dump(); }

// Reads one int32 tensor from a safetensors file: 8-byte little-endian header size, JSON header, raw data.
std::vector<int32_t> read_int32_tensor(const std::string& path, const std::string& name) {
  std::string bytes = read_all(path);
  if (bytes.size() < 8) throw std::runtime_error(path + ": too short");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  if (8 + header_len > bytes.size()) throw std::runtime_error(path + ": header runs past the end");
  json header = json::parse(bytes.substr(8, header_len));
  const json& t = header.at(name);
  if (t.at("dtype") != "I32") throw std::runtime_error(path + ": " + name + " is not I32");
  const size_t begin = t.at("data_offsets")[0].get<size_t>(), end = t.at("data_offsets")[1].get<size_t>();
  const size_t base = 8 + header_len;
  if (base + end > bytes.size() || end < begin || (end - begin) % 4 != 0) {
    throw std::runtime_error(path + ": bad data_offsets for " + name);
  }
  std::vector<int32_t> out((end - begin) / 4);
  std::memcpy(out.data(), bytes.data() + base + begin, end - begin);  // little-endian host, as the format
  return out;
}

// True when s is a whole number of well-formed UTF-8 sequences (no character cut at either end).
bool complete_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint8_t>(s[i]);
    const size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

class TokenizerStyle : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerStyle, EncodesEveryCaseLikeTheReference) {
  Tokenizer tok = Tokenizer::load(kShared + "/fixtures/tokenizers/" + GetParam());
  auto cases = load_cases(GetParam());
  ASSERT_GE(cases.size(), 20u);
  for (const Case& c : cases) {
    EXPECT_EQ(ids_str(tok.encode(c.text, false)), ids_str(c.ids)) << "text: " << json(c.text).dump();
  }
}

TEST_P(TokenizerStyle, DecodesEveryCaseLikeTheReference) {
  Tokenizer tok = Tokenizer::load(kShared + "/fixtures/tokenizers/" + GetParam());
  for (const Case& c : load_cases(GetParam())) {
    EXPECT_EQ(tok.decode(c.ids, false), c.decoded) << "ids: " << ids_str(c.ids);
  }
}

TEST_P(TokenizerStyle, DecodeStreamConcatenationEqualsDecode) {
  Tokenizer tok = Tokenizer::load(kShared + "/fixtures/tokenizers/" + GetParam());
  std::vector<int32_t> all;  // every case back to back: multi-byte characters split across many tokens
  for (const Case& c : load_cases(GetParam())) {
    for (bool skip : {false, true}) {
      DecodeStream stream(tok, skip);
      std::string text;
      for (int32_t id : c.ids) text += stream.push(id);
      text += stream.flush();
      EXPECT_EQ(text, tok.decode(c.ids, skip)) << "ids: " << ids_str(c.ids);
    }
    all.insert(all.end(), c.ids.begin(), c.ids.end());
  }
  DecodeStream stream(tok);
  std::string text;
  for (int32_t id : all) {
    std::string piece = stream.push(id);
    // Pieces are always complete UTF-8: nothing is emitted mid-character.
    EXPECT_TRUE(complete_utf8(piece)) << json(piece).dump();
    text += piece;
  }
  text += stream.flush();
  EXPECT_EQ(text, tok.decode(all));
}

TEST_P(TokenizerStyle, SpecialTokensAndConfig) {
  Tokenizer tok = Tokenizer::load(kShared + "/fixtures/tokenizers/" + GetParam());
  json config = json::parse(read_all(kShared + "/fixtures/tokenizers/" + GetParam() + "/tokenizer_config.json"));
  EXPECT_EQ(tok.eos_token(), config["eos_token"].get<std::string>());
  ASSERT_TRUE(tok.eos_id().has_value());
  EXPECT_TRUE(tok.is_special(*tok.eos_id()));
  EXPECT_EQ(tok.chat_template(), config["chat_template"].get<std::string>());
  const bool add_bos = config.value("add_bos_token", false);
  auto plain = tok.encode("Hello world", false);
  auto with = tok.encode("Hello world", true);
  if (add_bos) {
    ASSERT_TRUE(tok.bos_id().has_value());
    ASSERT_EQ(with.size(), plain.size() + 1);
    EXPECT_EQ(with[0], *tok.bos_id());
  } else {
    EXPECT_EQ(with, plain);
  }
  // Special tokens are skipped on request, and kept otherwise.
  std::vector<int32_t> ids = plain;
  ids.insert(ids.begin(), *tok.eos_id());
  EXPECT_EQ(tok.decode(ids, true), tok.decode(plain));
  EXPECT_NE(tok.decode(ids, false), tok.decode(plain));
  EXPECT_GE(tok.vocab_size(), 3);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{static_cast<int32_t>(tok.vocab_size())}), synaptix::Error);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{-1}), synaptix::Error);
  EXPECT_THROW(tok.encode("bad \xC3 utf8", false), synaptix::Error);
}

// Property: any valid UTF-8 text survives encode then decode unchanged (byte-level BPE and byte fallback
// can spell every byte). Random texts mix the scripts, whitespace and punctuation the regexes treat apart.
TEST_P(TokenizerStyle, RandomTextRoundTrips) {
  Tokenizer tok = Tokenizer::load(kShared + "/fixtures/tokenizers/" + GetParam());
  const std::vector<std::string> alphabet = {
      "a", "Z", "e", "the", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "0", "42", "1234", "'s", "'LL", "'",
      ".", ",", "!?", "-", "_", "\u00e9", "\u00c0", "\u00df", "\u65e5\u672c", "\u0416", "\u05d0", "\u0e01",
      "\U0001F642", "\U0001F680", "\u00a9", "\u2122", "\u200b", "\u0301", "<", ">", "|", "\\", "\"", "{", "}"};
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    auto ids = tok.encode(text, false);
    EXPECT_EQ(tok.decode(ids), text) << "text: " << json(text).dump() << " ids: " << ids_str(ids);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size());
  }
}

// Added tokens are cut out of the text before anything else, wherever they sit.
TEST_P(TokenizerStyle, AddedTokensMatchInsideText) {
  Tokenizer tok = Tokenizer::load(kShared + "/fixtures/tokenizers/" + GetParam());
  const int32_t eos = *tok.eos_id();
  auto ids = tok.encode("abc" + tok.eos_token() + "def" + tok.eos_token(), false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), eos), 2);
  EXPECT_EQ(ids.back(), eos);
}

// Parser fuzz: every part of tokenizer.json replaced by values of the wrong shape either loads or fails with
// synaptix::Error; nothing else escapes and nothing crashes.
TEST(TokenizerErrors, MutatedTokenizerJsonFailsCleanly) {
  const std::vector<json> junk = {nullptr, -1, 3000000000LL, "x", json::array({1, 2}), json::object(), true,
                                  json{{"type", 7}}};
  int loaded = 0, rejected = 0;
  for (const std::string& style : kStyles) {
    const json good = json::parse(read_all(kShared + "/fixtures/tokenizers/" + style + "/tokenizer.json"));
    // Every JSON pointer except the thousands inside vocab/merges (a sample of those is enough).
    std::vector<json::json_pointer> ptrs;
    std::function<void(const json&, const json::json_pointer&)> walk = [&](const json& j, const json::json_pointer& at) {
      ptrs.push_back(at);
      const std::string s = at.to_string();
      const bool bulk = s == "/model/vocab" || s == "/model/merges";
      size_t i = 0;
      if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it, ++i) {
          if (!bulk || i < 3) walk(it.value(), at / it.key());
        }
      } else if (j.is_array()) {
        for (; i < j.size(); ++i) {
          if (!bulk || i < 3) walk(j[i], at / i);
        }
      }
    };
    walk(good, json::json_pointer());
    for (const auto& ptr : ptrs) {
      for (const json& value : junk) {
        json mutated = good;
        mutated[ptr] = value;
        try {
          Tokenizer tok = Tokenizer::from_json(mutated.dump(), "");
          ++loaded;
          try {
            auto ids = tok.encode("Hello world, 2024 \u00e9\U0001F642", true);
            tok.decode(ids);
          } catch (const synaptix::Error&) {
          }
        } catch (const synaptix::Error& e) {
          ++rejected;
          EXPECT_GT(std::strlen(e.what()), 10u);
        } catch (const std::exception& e) {
          ADD_FAILURE() << style << " " << ptr.to_string() << " = " << value.dump() << ": escaped " << e.what();
        }
      }
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(loaded, 0);
}

// The config's special-token forms: AddedToken objects, a list of named chat templates.
TEST(TokenizerFormats, ConfigObjectTokensAndNamedTemplates) {
  const std::string tj = read_all(kShared + "/fixtures/tokenizers/sentencepiece_style/tokenizer.json");
  json config = {{"bos_token", {{"content", "<s>"}, {"special", true}}},
                 {"eos_token", "</s>"},
                 {"add_bos_token", true},
                 {"add_eos_token", true},
                 {"chat_template", json::array({{{"name", "tool_use"}, {"template", "T"}},
                                                {{"name", "default"}, {"template", "D"}}})}};
  Tokenizer tok = Tokenizer::from_json(tj, config.dump());
  EXPECT_EQ(tok.bos_token(), "<s>");
  EXPECT_EQ(tok.bos_id(), std::optional<int32_t>(1));
  EXPECT_EQ(tok.eos_id(), std::optional<int32_t>(2));
  EXPECT_EQ(tok.chat_template(), "D");
  auto ids = tok.encode("hi", true);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_THROW(Tokenizer::from_json(tj, "{\"add_bos_token\": true, \"bos_token\": \"<nope>\"}"), synaptix::Error);
  EXPECT_THROW(Tokenizer::from_json(tj, "{\"chat_template\": 5}"), synaptix::Error);
  EXPECT_THROW(Tokenizer::from_json(tj, "not json"), synaptix::Error);
}

// A TemplateProcessing post-processor (Llama-3's layout) adds its special tokens when asked.
TEST(TokenizerFormats, TemplateProcessingAddsBos) {
  json j = json::parse(read_all(kShared + "/fixtures/tokenizers/llama3_style/tokenizer.json"));
  j["post_processor"] = json::parse(R"({
    "type": "Sequence",
    "processors": [
      {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
       "pair": [],
       "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}}}]})");
  Tokenizer tok = Tokenizer::from_json(j.dump(), "");
  auto plain = tok.encode("Hello", false);
  auto with = tok.encode("Hello", true);
  ASSERT_EQ(with.size(), plain.size() + 1);
  EXPECT_EQ(with[0], 1);
}

// The older Llama-2/Mistral layout (no normalizer; a Metaspace pre-tokenizer and decoder) spells the same
// pieces as the Prepend+Replace normalizer for text that does not start with a space, so it must give the
// reference ids there; its decoder must give the text back where no byte-fallback tokens are involved.
TEST(TokenizerFormats, MetaspacePreTokenizerMatchesNormalizerLayout) {
  json j = json::parse(read_all(kShared + "/fixtures/tokenizers/sentencepiece_style/tokenizer.json"));
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "always"}, {"split", false}};
  j["decoder"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "always"}, {"split", false}};
  Tokenizer tok = Tokenizer::from_json(j.dump(), "");
  int checked = 0;
  for (const Case& c : load_cases("sentencepiece_style")) {
    if (c.text.empty() || c.text[0] == ' ') continue;
    EXPECT_EQ(ids_str(tok.encode(c.text, false)), ids_str(c.ids)) << json(c.text).dump();
    // The reference drops every U+2581 of the first token, so compare where that token is a lone U+2581.
    const bool lone_first = c.ids[0] == tok.token_id("\u2581");
    const int32_t byte0 = *tok.token_id("<0x00>"), byte255 = *tok.token_id("<0xFF>");
    const bool byte_tokens = std::any_of(c.ids.begin(), c.ids.end(), [&](int32_t id) { return id >= byte0 && id <= byte255; });
    if (lone_first && !byte_tokens) {
      EXPECT_EQ(tok.decode(c.ids), c.text);
    }
    checked += lone_first;
  }
  EXPECT_GE(checked, 5);
}

// A character spelled by several tokens (byte-level pieces, or <0xXX> byte fallback) comes out whole, once
// its last byte arrives.
TEST(TokenizerStream, HoldsBackIncompleteCharacters) {
  for (const std::string& style : kStyles) {
    SCOPED_TRACE(style);
    Tokenizer tok = Tokenizer::load(kShared + "/fixtures/tokenizers/" + style);
    const std::string text = "\u8a9e!";  // not a whole token in any fixture vocab
    auto ids = tok.encode(text, false);
    ASSERT_GE(ids.size(), 3u);
    DecodeStream stream(tok);
    std::vector<std::string> pieces;
    for (int32_t id : ids) pieces.push_back(stream.push(id));
    pieces.push_back(stream.flush());
    std::string joined;
    for (const auto& piece : pieces) joined += piece;
    EXPECT_EQ(joined, text);
    // The character appears in exactly one piece, and every piece before it is empty.
    size_t first_nonempty = 0;
    while (first_nonempty < pieces.size() && pieces[first_nonempty].empty()) ++first_nonempty;
    ASSERT_LT(first_nonempty, pieces.size());
    EXPECT_EQ(pieces[first_nonempty].substr(0, 3), "\u8a9e");
    EXPECT_GE(first_nonempty, 2u);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerStyle, ::testing::ValuesIn(kStyles));

TEST(TokenizerModels, EncodeReferencePromptToReferenceInputIds) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kShared + "/fixtures/models")) {
    const std::string dir = entry.path().string();
    if (!std::filesystem::exists(dir + "/reference.json")) continue;
    SCOPED_TRACE(dir);
    json ref = json::parse(read_all(dir + "/reference.json"));
    Tokenizer tok = Tokenizer::load(dir);
    auto expected = read_int32_tensor(dir + "/reference.safetensors", "input_ids");
    auto ids = tok.encode(ref["prompt"].get<std::string>(), ref["prepend_bos"].get<bool>());
    EXPECT_EQ(ids_str(ids), ids_str(expected));
    if (ref["prepend_bos"].get<bool>()) {
      ASSERT_TRUE(tok.bos_id().has_value());
      EXPECT_EQ(ids.front(), *tok.bos_id());
    }
    ++checked;
  }
  EXPECT_GE(checked, 9);
}

// Writes a tokenizer directory with the given tokenizer.json text and returns its path.
std::string write_tokenizer_dir(const std::string& name, const std::string& tokenizer_json) {
  auto dir = std::filesystem::temp_directory_path() / ("synaptix_tok_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << tokenizer_json;
  return dir.string();
}

std::string load_error(const std::string& name, const std::string& tokenizer_json) {
  const std::string dir = write_tokenizer_dir(name, tokenizer_json);
  std::string msg;
  try {
    Tokenizer::load(dir);
  } catch (const synaptix::Error& e) {
    msg = e.what();
  }
  std::filesystem::remove_all(dir);
  return msg;
}

TEST(TokenizerErrors, MalformedFilesGiveClearErrors) {
  json good = json::parse(read_all(kShared + "/fixtures/tokenizers/byte_level/tokenizer.json"));

  EXPECT_NE(load_error("badjson", "{\"model\": ").find("invalid JSON"), std::string::npos);

  json no_model = good;
  no_model.erase("model");
  EXPECT_NE(load_error("nomodel", no_model.dump()).find("model: missing"), std::string::npos);

  json unigram = good;
  unigram["model"]["type"] = "Unigram";
  std::string msg = load_error("unigram", unigram.dump());
  EXPECT_NE(msg.find("model.type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Unigram"), std::string::npos) << msg;

  json bad_pre = good;
  bad_pre["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  msg = load_error("badpre", bad_pre.dump());
  EXPECT_NE(msg.find("pre_tokenizer.type"), std::string::npos) << msg;
  EXPECT_NE(msg.find("BertPreTokenizer"), std::string::npos) << msg;

  json bad_norm = good;
  bad_norm["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "BertNormalizer"}}}}};
  msg = load_error("badnorm", bad_norm.dump());
  EXPECT_NE(msg.find("normalizer.normalizers[0].type"), std::string::npos) << msg;

  json bad_dec = good;
  bad_dec["decoder"] = {{"type", "WordPiece"}};
  EXPECT_NE(load_error("baddec", bad_dec.dump()).find("decoder.type"), std::string::npos);

  json bad_merge = good;
  bad_merge["model"]["merges"][0] = json::array({"h", "no-such-token"});
  EXPECT_NE(load_error("badmerge", bad_merge.dump()).find("merges[0]"), std::string::npos);

  json bad_regex = good;
  bad_regex["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_NE(load_error("badregex", bad_regex.dump()).find("cannot compile regex"), std::string::npos);

  EXPECT_THROW(Tokenizer::load("/nonexistent/synaptix"), synaptix::Error);
}

// Both merge spellings ("a b" and ["a", "b"]) build the same tokenizer.
TEST(TokenizerFormats, MergeStringsAndPairsAgree) {
  json pairs = json::parse(read_all(kShared + "/fixtures/tokenizers/byte_level/tokenizer.json"));
  json strings = pairs;
  for (auto& m : strings["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  Tokenizer a = Tokenizer::from_json(pairs.dump(), "");
  Tokenizer b = Tokenizer::from_json(strings.dump(), "");
  for (const Case& c : load_cases("byte_level")) EXPECT_EQ(a.encode(c.text, false), b.encode(c.text, false));
}

// ignore_merges: a piece that is a whole vocab entry is taken as is, without running the merges.
TEST(TokenizerFormats, IgnoreMergesTakesWholeVocabWords) {
  json j = json::parse(read_all(kShared + "/fixtures/tokenizers/byte_level/tokenizer.json"));
  // A token reachable only by a vocab lookup: no merge sequence produces it.
  j["model"]["vocab"]["xyzzy"] = 600;
  Tokenizer without = Tokenizer::from_json(j.dump(), "");
  j["model"]["ignore_merges"] = true;
  Tokenizer with = Tokenizer::from_json(j.dump(), "");
  EXPECT_EQ(with.encode("xyzzy", false), std::vector<int32_t>{600});
  EXPECT_NE(without.encode("xyzzy", false), std::vector<int32_t>{600});
}

// Added tokens with lstrip/rstrip take the whitespace around them.
TEST(TokenizerFormats, AddedTokenStripFlags) {
  json j = json::parse(read_all(kShared + "/fixtures/tokenizers/byte_level/tokenizer.json"));
  j["added_tokens"].push_back({{"id", 700}, {"content", "<mask>"}, {"single_word", false}, {"lstrip", true},
                               {"rstrip", true}, {"normalized", false}, {"special", true}});
  Tokenizer tok = Tokenizer::from_json(j.dump(), "");
  auto ids = tok.encode("a  <mask>  b", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{*tok.token_id("a"), 700, *tok.token_id("b")}));
  EXPECT_EQ(tok.vocab_size(), 701);
}

std::string run_cli(const std::string& args, const std::string& input, int* status) {
  char tmpl[] = "/tmp/synaptix_cli_inXXXXXX";
  int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(tmpl, std::ios::binary) << input;
  std::string cmd = std::string(SYNAPTIX_BINARY) + " " + args + " < " + tmpl + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while (pipe && (n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  *status = pipe ? pclose(pipe) : -1;
  std::remove(tmpl);
  return out;
}

TEST(TokenizerCli, TokenizeAndDetokenizeEndToEnd) {
  for (const std::string& style : kStyles) {
    const std::string dir = kShared + "/fixtures/tokenizers/" + style;
    for (const Case& c : load_cases(style)) {
      if (c.text.find('\n') == std::string::npos) continue;  // one case with a newline: stdin is taken whole
      int status = 0;
      std::string out = run_cli("tokenize --model " + dir, c.text, &status);
      EXPECT_EQ(status, 0) << out;
      EXPECT_EQ(out, ids_str(c.ids) + "\n");
      out = run_cli("detokenize --model " + dir, ids_str(c.ids), &status);
      EXPECT_EQ(status, 0) << out;
      EXPECT_EQ(out, c.decoded);
      break;
    }
  }
  int status = 0;
  const std::string dir = kShared + "/fixtures/tokenizers/byte_level";
  std::string out = run_cli("detokenize --model " + dir, "[1, 99999]", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("99999"), std::string::npos) << out;
  out = run_cli("detokenize --model " + dir, "[1, ", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("JSON"), std::string::npos) << out;
}

}  // namespace
