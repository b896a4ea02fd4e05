#pragma once
// The Hugging Face `tokenizer.json` tokenizer: added/special tokens, normalizer, pre-tokenizer, BPE model,
// post-processor (BOS/EOS) and decoder, as the `tokenizers` library runs them. Supports the layouts the
// published decoder-only models use: GPT-2 byte-level BPE, Llama-3/Qwen2 (Split regex + byte-level BPE) and
// Llama-2/Mistral SentencePiece-style BPE with byte fallback. Anything else in the file (another model type,
// an unknown normalizer, pre-tokenizer, post-processor or decoder) is rejected at load with synaptix::Error.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace synaptix::model {

namespace tokenizer_detail {
struct Pipeline;  // tokenizer_pipeline.h
}
struct GgufTokenizerMetadata;  // tokenizer_gguf.h

class Tokenizer {
 public:
  // Reads <dir>/tokenizer.json and, if present, <dir>/tokenizer_config.json (bos_token, eos_token,
  // add_bos_token, add_eos_token, chat_template: a string, or a list of {name, template} of which "default"
  // is taken). When `dir` is a GGUF file, the tokenizer its metadata carries instead (from_gguf).
  static Tokenizer load(const std::string& dir);
  // Same, from the file contents; `where` names the source in error messages. `config_json` may be empty.
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view config_json,
                             const std::string& where = "tokenizer.json");
  // From the tokenizer.* metadata of a GGUF file (tokenizer_gguf.cpp).
  static Tokenizer from_gguf(const GgufTokenizerMetadata& metadata);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // `text` must be valid UTF-8. add_special_tokens adds BOS/EOS as the post_processor (TemplateProcessing)
  // or tokenizer_config.json (add_bos_token/add_eos_token, which take precedence) says.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // Throws for an id outside [0, vocab_size()).
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  int64_t vocab_size() const;  // max id + 1 over vocab and added tokens
  std::optional<int32_t> token_id(std::string_view token) const;
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  const std::string& bos_token() const;  // "" when none
  const std::string& eos_token() const;  // "" when none
  const std::string& chat_template() const;  // "" when none
  bool is_special(int32_t id) const;

 private:
  Tokenizer();
  std::unique_ptr<tokenizer_detail::Pipeline> p_;
};

// Streaming decode for generation: push ids one at a time and get back the new complete UTF-8 text. An
// incomplete multi-byte sequence is held back until it completes; the concatenation of every push() and the
// final flush() equals Tokenizer::decode of all the ids.
class DecodeStream {
 public:
  explicit DecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer* tok_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // the window: context ids already emitted, then ids not yet emitted
  size_t prefix_ids_ = 0;     // how many of ids_ are context
  std::string prefix_text_;   // decode(ids_[0, prefix_ids_))
};

}  // namespace synaptix::model
