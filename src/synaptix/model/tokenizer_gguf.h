#pragma once
// The tokenizer a GGUF file carries in its metadata (the tokenizer.* keys), as plain values, and how to read
// them from a file. Tokenizer::from_gguf builds the tokenizer from them; Tokenizer::load does both for a path
// that is a GGUF file.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace synaptix::model {

// tokenizer.ggml.token_type values, as GGUF writers number them.
enum class GgufTokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct GgufTokenizerMetadata {
  std::string source;                // the file, for error messages
  std::string model;                 // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
  std::string pre;                   // tokenizer.ggml.pre: the pre-tokenizer of a "gpt2" vocabulary; "" if absent
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens; the index is the id
  std::vector<float> scores;         // tokenizer.ggml.scores; empty when absent
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type (GgufTokenType); empty when absent
  std::vector<std::string> merges;   // tokenizer.ggml.merges, "left right", highest priority first
  std::optional<int64_t> bos_id, eos_id, unknown_id, padding_id;  // tokenizer.ggml.*_token_id
  std::optional<bool> add_bos, add_eos, add_space_prefix;       // tokenizer.ggml.add_bos_token etc.
  std::string chat_template;                                      // tokenizer.chat_template; "" if absent
};

// True when the file at `path` starts with the GGUF magic.
bool is_gguf_file(const std::string& path);

// Reads the tokenizer.* keys of a GGUF file (through GgufFile, gguf.h).
GgufTokenizerMetadata read_gguf_tokenizer_metadata(const std::string& path);

}  // namespace synaptix::model
