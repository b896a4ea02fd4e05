// Fuzz target: a Hugging Face tokenizer, then text through it. The input is
//   tokenizer.json \0 tokenizer_config.json \0 text
// (missing parts are empty). A tokenizer that loads must encode the text (or reject invalid UTF-8 with an
// Error), decode what it produced, decode every low id on its own and stream-decode the ids.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "synaptix/model/tokenizer.h"

namespace {

constexpr int32_t kSingleIdsChecked = 64;

void exercise(const synaptix::model::Tokenizer& tok, std::string_view text) {
  volatile size_t sink = 0;
  synaptix::fuzz::expect_clean([&] {
    for (bool special : {false, true}) {
      const std::vector<int32_t> ids = tok.encode(text, special);
      for (int32_t id : ids) {
        if (id < 0 || id >= tok.vocab_size()) std::abort();  // encode must yield ids decode accepts
      }
      sink = sink + tok.decode(ids, false).size() + tok.decode(ids, true).size();
      synaptix::model::DecodeStream stream(tok);
      for (int32_t id : ids) sink = sink + stream.push(id).size();
      sink = sink + stream.flush().size();
    }
  });
  const int32_t n = static_cast<int32_t>(std::min<int64_t>(tok.vocab_size(), kSingleIdsChecked));
  for (int32_t id = 0; id < n; ++id) {
    const int32_t one[] = {id};
    synaptix::fuzz::expect_clean([&] { sink = sink + tok.decode(one, false).size(); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = synaptix::fuzz::split_parts(synaptix::fuzz::as_text(data, size), 3);
  const std::string_view tokenizer_json = parts[0];
  const std::string_view config_json = parts.size() > 1 ? parts[1] : std::string_view();
  const std::string_view text = parts.size() > 2 ? parts[2] : std::string_view("Hello, world! 123 héllo 日本語 🙂\n");
  synaptix::fuzz::expect_clean([&] {
    const auto tok = synaptix::model::Tokenizer::from_json(tokenizer_json, config_json, "tokenizer.json");
    exercise(tok, text);
  });
  return 0;
}
