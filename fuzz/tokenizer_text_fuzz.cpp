// Fuzz target: text through the fixture tokenizers (GPT-2 byte-level, Llama-3-style Split + byte-level,
// SentencePiece-style with byte fallback), as a prompt from a request reaches them. Every id must be in the
// vocabulary, decode and stream-decode must agree, and the byte-level ones must give back the text exactly
// (byte-level BPE is lossless: every byte has a token).
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "synaptix/model/tokenizer.h"

namespace {

struct Fixture {
  synaptix::model::Tokenizer tok;
  bool lossless;
};

const std::vector<std::unique_ptr<Fixture>>& fixtures() {
  static const auto all = [] {
    std::vector<std::unique_ptr<Fixture>> v;
    const std::string dir = std::string(SYNAPTIX_SHARED_DIR) + "/fixtures/tokenizers/";
    for (const auto& [style, lossless] : {std::pair{"byte_level", true}, std::pair{"llama3_style", true},
                                          std::pair{"sentencepiece_style", false}}) {
      v.push_back(std::make_unique<Fixture>(Fixture{synaptix::model::Tokenizer::load(dir + style), lossless}));
    }
    return v;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = synaptix::fuzz::as_text(data, size);
  for (const auto& f : fixtures()) {
    synaptix::fuzz::expect_clean([&] {
      const std::vector<int32_t> ids = f->tok.encode(text, /*add_special_tokens=*/false);
      for (int32_t id : ids) {
        if (id < 0 || id >= f->tok.vocab_size()) std::abort();
      }
      const std::string decoded = f->tok.decode(ids);
      synaptix::model::DecodeStream stream(f->tok);
      std::string streamed;
      for (int32_t id : ids) streamed += stream.push(id);
      streamed += stream.flush();
      if (streamed != decoded) std::abort();
      if (f->lossless && decoded != text) std::abort();
    });
  }
  return 0;
}
