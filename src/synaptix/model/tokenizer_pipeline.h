#pragma once
// Internal to the tokenizer: the stages of a tokenizer.json pipeline, each built from its JSON node.
// Encode: added tokens split the text -> normalizer -> pre-tokenizer -> BPE per piece -> post-processor.
// Decode: ids -> token strings -> decoder chain -> text.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "synaptix/model/utf8.h"

namespace synaptix::model::tokenizer_detail {

using json = nlohmann::json;

// ---- UTF-8 and byte-level helpers (tokenizer_text.cpp) ----

// Byte offset of the first invalid UTF-8 sequence in s, or npos when s is valid.
size_t find_invalid_utf8(std::string_view s);
// Replaces every invalid sequence with U+FFFD, one per maximal invalid subpart (as Rust's from_utf8_lossy).
std::string utf8_lossy(std::string_view bytes);
// Length in bytes of the UTF-8 character starting at s[i] (s must be valid UTF-8).
size_t utf8_char_len(std::string_view s, size_t i);
using model::append_utf8;  // synaptix/model/utf8.h
std::vector<char32_t> utf8_codepoints(std::string_view s);
// GPT-2's reversible byte <-> printable-character map ("bytes_to_unicode"): printable Latin-1 bytes map to
// themselves, the other 68 bytes to U+0100 onwards in byte order.
const std::string& byte_to_unicode(uint8_t b);
std::optional<uint8_t> unicode_to_byte(char32_t cp);

// ---- PCRE2 regex (tokenizer_regex.cpp) ----

// A compiled PCRE2 pattern (UTF + UCP, JIT when available). Thread-safe for matching.
class Regex {
 public:
  // literal: match `pattern` as a plain string. `where` names the JSON path for errors.
  Regex(const std::string& pattern, bool literal, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // All non-overlapping matches in `text` (valid UTF-8) as [begin, end) byte ranges, left to right.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  void* code_ = nullptr;  // pcre2_code_8*
  std::string where_;
};

// ---- normalizers (tokenizer_normalize.cpp) ----

// A Replace/Split "pattern" node: {"String": literal} or {"Regex": pattern}.
std::unique_ptr<Regex> make_pattern(const json& node, const std::string& path);

struct Normalizer {
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string s) const = 0;
};
// node may be null (no normalizer: returns nullptr). `path` is its JSON path for errors.
std::unique_ptr<Normalizer> make_normalizer(const json& node, const std::string& path);

// ---- pre-tokenizers (tokenizer_pretokenize.cpp) ----

struct PreTokenizer {
  virtual ~PreTokenizer() = default;
  // Splits each piece further (and may rewrite it). first_segment: the pieces come from the start of the
  // input text (Metaspace's prepend_scheme "first" needs it).
  virtual void split(std::vector<std::string>& pieces, bool first_segment) const = 0;
};
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& node, const std::string& path);

// ---- BPE models (tokenizer_bpe.cpp: merges ranked by position; tokenizer_spm.cpp: merges ranked by score) ----

// What the pipeline asks of its model: the ids of one pre-tokenized piece, and the vocabulary both ways.
class TokenModel {
 public:
  virtual ~TokenModel() = default;
  // Appends the ids of one pre-tokenized piece.
  virtual void tokenize(std::string_view piece, std::vector<int32_t>& out) const = 0;
  virtual std::optional<int32_t> token_id(std::string_view token) const = 0;
  virtual const std::string* token(int32_t id) const = 0;  // nullptr when the vocab has no such id
  virtual int32_t max_id() const = 0;
};

// The tokenizers library's BPE: a merges list whose position is the rank.
class Bpe final : public TokenModel {
 public:
  Bpe(const json& model, const std::string& path);
  void tokenize(std::string_view piece, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_id(std::string_view token) const override;
  const std::string* token(int32_t id) const override;
  int32_t max_id() const override { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  struct PairHash {
    size_t operator()(uint64_t k) const { return std::hash<uint64_t>{}(k * 0x9E3779B97F4A7C15ull); }
  };
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  void merge_word(std::string_view piece, std::vector<int32_t>& out) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;  // "" for ids absent from the vocab
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, Merge, PairHash> merges_;  // (left id << 32 | right id) -> rank, merged id
  std::optional<int32_t> unk_id_;
  std::string continuing_subword_prefix_, end_of_word_suffix_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  std::vector<std::optional<int32_t>> byte_ids_;  // "<0xXX>" ids for byte fallback

  // Word cache: the same words recur constantly in real text. Bounded; cleared when full.
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// SentencePiece BPE as GGUF "llama" vocabularies carry it (tokens with scores, no merges list): neighbouring
// pieces merge while their concatenation is a token, the highest-scoring merge first (the leftmost on ties);
// a character left outside the vocabulary becomes its <0xXX> byte tokens, or the unknown token.
class ScoredBpe final : public TokenModel {
 public:
  // tokens[i] and scores[i] belong to id i; tokens must be non-empty strings. `where` names the source.
  ScoredBpe(std::vector<std::string> tokens, std::vector<float> scores, std::optional<int32_t> unk_id,
            const std::string& where);
  void tokenize(std::string_view piece, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_id(std::string_view token) const override;
  const std::string* token(int32_t id) const override;
  int32_t max_id() const override { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<float> scores_;
  std::array<std::optional<int32_t>, 256> byte_ids_{};  // "<0xXX>" tokens
  std::optional<int32_t> unk_id_;
  std::string where_;
};

// ---- decoders (tokenizer_decode.cpp) ----

struct Decoder {
  virtual ~Decoder() = default;
  // Rewrites the list of token strings (a decoder may fuse them into one).
  virtual void decode(std::vector<std::string>& tokens) const = 0;
};
std::unique_ptr<Decoder> make_decoder(const json& node, const std::string& path);

// ---- the assembled tokenizer (tokenizer.cpp) ----

struct AddedToken {
  int32_t id;
  std::string content;
  bool special, lstrip, rstrip, normalized, single_word;
};

struct Pipeline {
  std::string where;
  std::vector<AddedToken> added;  // sorted longest content first for matching
  // Indices into `added` by the first byte of the content (longest first), so matching tries only the
  // tokens that can start at a position: Llama-3 has 256 added tokens, most text bytes start none.
  std::array<std::vector<uint32_t>, 256> added_by_first_byte;
  std::unordered_map<std::string, int32_t> added_by_content;
  std::unordered_map<int32_t, size_t> added_by_id;  // index into `added`
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<TokenModel> bpe;  // Bpe (tokenizer.json, GGUF "gpt2") or ScoredBpe (GGUF "llama")
  std::unique_ptr<Decoder> decoder;
  std::vector<int32_t> prefix_ids, suffix_ids;  // what add_special_tokens puts around the sequence
  std::string bos_token, eos_token, chat_template;
  std::optional<int32_t> bos_id, eos_id;
  int64_t vocab_size = 0;
};

}  // namespace synaptix::model::tokenizer_detail
