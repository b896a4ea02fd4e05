// The tokenizer.* keys of a GGUF file, read through the container reader (gguf.h), which has validated every
// length and type; here only the keys the tokenizer needs are picked and given their expected shapes.
#include <filesystem>

#include "synaptix/core/error.h"
#include "synaptix/model/gguf.h"
#include "synaptix/model/tokenizer_gguf.h"

namespace synaptix::model {

bool is_gguf_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && has_gguf_magic(path);
}

GgufTokenizerMetadata read_gguf_tokenizer_metadata(const std::string& path) {
  const GgufFile f(path);
  GgufTokenizerMetadata m;
  m.source = path;
  auto model = f.find_string("tokenizer.ggml.model");
  if (!model) fail(path, ": tokenizer.ggml.model: missing (this GGUF file carries no tokenizer)");
  m.model = *model;
  m.pre = f.find_string("tokenizer.ggml.pre").value_or("");
  if (f.find("tokenizer.ggml.tokens")) m.tokens = f.string_array("tokenizer.ggml.tokens");
  if (f.find("tokenizer.ggml.merges")) m.merges = f.string_array("tokenizer.ggml.merges");
  if (f.find("tokenizer.ggml.scores")) m.scores = f.float_array("tokenizer.ggml.scores");
  if (f.find("tokenizer.ggml.token_type")) {
    const auto types = f.int_array("tokenizer.ggml.token_type");
    m.token_types.reserve(types.size());
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] < INT32_MIN || types[i] > INT32_MAX) {
        fail(path, ": tokenizer.ggml.token_type[", i, "] = ", types[i], " is out of range");
      }
      m.token_types.push_back(static_cast<int32_t>(types[i]));
    }
  }
  m.bos_id = f.find_int("tokenizer.ggml.bos_token_id");
  m.eos_id = f.find_int("tokenizer.ggml.eos_token_id");
  m.unknown_id = f.find_int("tokenizer.ggml.unknown_token_id");
  m.padding_id = f.find_int("tokenizer.ggml.padding_token_id");
  m.add_bos = f.find_bool("tokenizer.ggml.add_bos_token");
  m.add_eos = f.find_bool("tokenizer.ggml.add_eos_token");
  m.add_space_prefix = f.find_bool("tokenizer.ggml.add_space_prefix");
  m.chat_template = f.find_string("tokenizer.chat_template").value_or("");
  return m;
}

}  // namespace synaptix::model
