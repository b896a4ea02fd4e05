// Building the tokenizer pipeline from a GGUF file's tokenizer metadata, with the meaning llama.cpp (the
// reference runtime for the format) gives those keys:
//  - "gpt2": byte-level BPE with a merges list; tokenizer.ggml.pre names the pre-tokenizer regexes.
//  - "llama": SentencePiece BPE ranked by token score, spaces escaped to U+2581, an optional leading space
//    (add_space_prefix), characters outside the vocabulary spelled as <0xXX> byte tokens.
// Control, unknown and user-defined tokens are cut out of the text whole before anything else, like the added
// tokens of tokenizer.json; control and unknown ones count as special (skipped by decode on request).
#include <algorithm>
#include <cstdint>
#include <string>

#include "synaptix/core/error.h"
#include "synaptix/model/builtin_chat_templates.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/model/tokenizer_gguf.h"
#include "synaptix/model/tokenizer_pipeline.h"

namespace synaptix::model {
using namespace tokenizer_detail;

namespace {

// The pre-tokenizer regexes llama.cpp runs for each tokenizer.ggml.pre name, applied one after another, each
// splitting the pieces of the previous one (a match and the text between matches are separate pieces).
constexpr const char* kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreTokenizerChoice {
  std::vector<std::string> regexes;
  bool ignore_merges = false;  // a piece that is itself a token is taken whole
  bool add_bos = false;        // the default when the file has no tokenizer.ggml.add_bos_token
};

std::optional<PreTokenizerChoice> pre_tokenizer_for(const std::string& pre) {
  auto is_any = [&](std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return pre == n; });
  };
  if (is_any({"llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe"})) {
    return PreTokenizerChoice{{kLlama3Regex}, true, true};
  }
  if (is_any({"qwen2", "stablelm2", "megrez"})) return PreTokenizerChoice{{kQwen2Regex}, false, false};
  if (is_any({"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"})) {
    return PreTokenizerChoice{{R"(\p{N})", kGpt2Regex}, false, false};
  }
  if (is_any({"gpt-2", "phi-2", "roberta-bpe", "mpt", "olmo", "jais"})) {
    return PreTokenizerChoice{{kGpt2Regex}, false, false};
  }
  if (pre.empty() || pre == "default") {
    return PreTokenizerChoice{{R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", "[0-9][0-9][0-9]"}, false, false};
  }
  return std::nullopt;
}

json pre_tokenizer_node(const PreTokenizerChoice& choice) {
  json parts = json::array();
  for (const std::string& r : choice.regexes) {
    parts.push_back({{"type", "Split"}, {"pattern", {{"Regex", r}}}, {"behavior", "Isolated"}, {"invert", false}});
  }
  parts.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
  return {{"type", "Sequence"}, {"pretokenizers", std::move(parts)}};
}

// The end-of-turn tokens llama.cpp treats as control tokens whatever type the file gives them.
bool looks_like_end_of_turn(const std::string& t) {
  return t == "<|eot_id|>" || t == "<|im_end|>" || t == "<|end|>" || t == "<end_of_turn>" || t == "<|endoftext|>" ||
         t == "<|eom_id|>" || t == "<EOT>";
}

std::optional<int32_t> checked_id(const std::optional<int64_t>& id, const char* key, size_t n_tokens,
                                  const std::string& where) {
  if (!id) return std::nullopt;
  if (*id < 0 || static_cast<uint64_t>(*id) >= n_tokens) {
    fail(where, ": ", key, " = ", *id, " is outside the vocabulary (expected 0 <= id < ", n_tokens, ")");
  }
  return static_cast<int32_t>(*id);
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const GgufTokenizerMetadata& m) {
  const std::string& where = m.source;
  const size_t n = m.tokens.size();
  if (n == 0) fail(where, ": tokenizer.ggml.tokens: missing or empty (a GGUF file with a tokenizer was expected)");
  if (n >= static_cast<size_t>(INT32_MAX)) fail(where, ": tokenizer.ggml.tokens: ", n, " tokens is too many");
  if (!m.token_types.empty() && m.token_types.size() != n) {
    fail(where, ": tokenizer.ggml.token_type has ", m.token_types.size(), " entries for ", n, " tokens");
  }
  if (!m.scores.empty() && m.scores.size() != n) {
    fail(where, ": tokenizer.ggml.scores has ", m.scores.size(), " entries for ", n, " tokens");
  }

  // An empty token could never be matched; the reference names it so that every id still has a text.
  std::vector<std::string> tokens = m.tokens;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i].empty()) tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
  }
  std::vector<GgufTokenType> types(n, GgufTokenType::Normal);
  for (size_t i = 0; i < m.token_types.size(); ++i) {
    const int32_t t = m.token_types[i];
    if (t < 0 || t > static_cast<int32_t>(GgufTokenType::Byte)) {
      fail(where, ": tokenizer.ggml.token_type[", i, "] = ", t, " (expected 0..6: undefined, normal, unknown, "
           "control, user-defined, unused, byte)");
    }
    types[i] = static_cast<GgufTokenType>(t);
  }
  for (size_t i = 0; i < n; ++i) {
    if (looks_like_end_of_turn(tokens[i])) types[i] = GgufTokenType::Control;
  }

  Tokenizer tok;
  Pipeline& p = *tok.p_;
  p.where = where;
  p.vocab_size = static_cast<int64_t>(n);
  p.chat_template = m.chat_template;
  if (p.chat_template.empty() && std::find(tokens.begin(), tokens.end(), "<start_of_turn>") != tokens.end() &&
      std::find(tokens.begin(), tokens.end(), "<end_of_turn>") != tokens.end())
    p.chat_template = gemma_turn_template();  // a Gemma file without a template: Gemma's turn format

  auto bos = checked_id(m.bos_id, "tokenizer.ggml.bos_token_id", n, where);
  auto eos = checked_id(m.eos_id, "tokenizer.ggml.eos_token_id", n, where);
  auto unk = checked_id(m.unknown_id, "tokenizer.ggml.unknown_token_id", n, where);
  checked_id(m.padding_id, "tokenizer.ggml.padding_token_id", n, where);
  bool add_bos = false;
  bool add_eos = false;

  if (m.model == "llama") {
    // SentencePiece files written without the id keys use the ids of the original LLaMA vocabulary.
    if (!m.bos_id && n > 1) bos = 1;
    if (!m.eos_id && n > 2) eos = 2;
    if (!m.unknown_id) unk = 0;
    add_bos = m.add_bos.value_or(true);
    add_eos = m.add_eos.value_or(false);
    const bool space_prefix = m.add_space_prefix.value_or(true);
    std::vector<float> scores = m.scores.empty() ? std::vector<float>(n, 0.0f) : m.scores;
    p.bpe = std::make_unique<ScoredBpe>(tokens, std::move(scores), unk, where + ": tokenizer.ggml.tokens");
    json normalizers = json::array();
    if (space_prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", "\u2581"}});
    normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}});
    p.normalizer = make_normalizer({{"type", "Sequence"}, {"normalizers", std::move(normalizers)}}, where);
    json decoders = json::array({
        {{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
        {{"type", "ByteFallback"}},
        {{"type", "Fuse"}},
    });
    if (space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1u}, {"stop", 0u}});
    p.decoder = make_decoder({{"type", "Sequence"}, {"decoders", std::move(decoders)}}, where);
  } else if (m.model == "gpt2") {
    auto choice = pre_tokenizer_for(m.pre);
    if (!choice) {
      fail(where, ": tokenizer.ggml.pre = \"", m.pre, "\" is not a supported pre-tokenizer (expected one of "
           "default, gpt-2, llama-bpe, llama3, qwen2, smollm, starcoder, and the names llama.cpp gives the same "
           "regexes)");
    }
    if (m.merges.empty()) fail(where, ": tokenizer.ggml.merges: missing or empty (a \"gpt2\" tokenizer needs them)");
    add_bos = m.add_bos.value_or(choice->add_bos);
    add_eos = m.add_eos.value_or(false);
    json vocab = json::object();
    for (size_t i = 0; i < n; ++i) vocab[tokens[i]] = static_cast<int64_t>(i);
    json model = {{"type", "BPE"},  {"vocab", std::move(vocab)}, {"merges", m.merges},
                  {"ignore_merges", choice->ignore_merges}};
    p.bpe = std::make_unique<Bpe>(model, where + ": tokenizer.ggml");
    p.pre_tokenizer = make_pre_tokenizer(pre_tokenizer_node(*choice), where + ": tokenizer.ggml.pre");
    p.decoder = make_decoder({{"type", "ByteLevel"}}, where);
  } else {
    fail(where, ": tokenizer.ggml.model = \"", m.model, "\" is not supported (expected \"gpt2\" or \"llama\")");
  }

  // Control, unknown and user-defined tokens are matched whole in the raw text, longest first.
  for (size_t i = 0; i < n; ++i) {
    const GgufTokenType t = types[i];
    if (t != GgufTokenType::Control && t != GgufTokenType::Unknown && t != GgufTokenType::UserDefined) continue;
    AddedToken a{static_cast<int32_t>(i), tokens[i], t != GgufTokenType::UserDefined, false, false, false, false};
    p.added_by_content[a.content] = a.id;
    p.added.push_back(std::move(a));
  }
  std::stable_sort(p.added.begin(), p.added.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (size_t i = 0; i < p.added.size(); ++i) {
    p.added_by_id[p.added[i].id] = i;
    p.added_by_first_byte[static_cast<uint8_t>(p.added[i].content[0])].push_back(static_cast<uint32_t>(i));
  }

  p.bos_id = bos;
  p.eos_id = eos;
  if (bos) p.bos_token = tokens[static_cast<size_t>(*bos)];
  if (eos) p.eos_token = tokens[static_cast<size_t>(*eos)];
  if (add_bos) {
    if (!bos) fail(where, ": tokenizer.ggml.add_bos_token is true but the file has no tokenizer.ggml.bos_token_id");
    p.prefix_ids.push_back(*bos);
  }
  if (add_eos) {
    if (!eos) fail(where, ": tokenizer.ggml.add_eos_token is true but the file has no tokenizer.ggml.eos_token_id");
    p.suffix_ids.push_back(*eos);
  }
  return tok;
}

}  // namespace synaptix::model
