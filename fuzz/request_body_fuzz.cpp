// Fuzz target: an HTTP request body for /v1/completions and /v1/chat/completions, through what the server
// does before a request reaches the engine: parse the JSON, validate it against the OpenAI schema (as a chat
// and as a completions request), build the error body a rejected request gets, render accepted chat messages
// with a chat template and encode the prompt with a real tokenizer (the llama3-style fixture).
#include <string>

#include "fuzz_support.h"
#include "synaptix/model/chat_template.h"
#include "synaptix/model/tokenizer.h"
#include "synaptix/serve/openai_api.h"

namespace {

const char* const kModel = "fuzz-model";

const synaptix::model::Tokenizer& tokenizer() {
  static const auto tok = synaptix::model::Tokenizer::load(std::string(SYNAPTIX_SHARED_DIR) +
                                                           "/fixtures/tokenizers/llama3_style");
  return tok;
}

// ChatML, the layout of Qwen2 and SmolLM2, with the features templates use on message fields.
const synaptix::model::ChatTemplate& chat_template() {
  static const synaptix::model::ChatTemplate tmpl(
      "{{ bos_token }}{% for message in messages %}"
      "{{ '<|im_start|>' + message['role'] + '\\n' }}"
      "{% if message['content'] is string %}{{ message['content'] | trim }}{% endif %}"
      "{% if message.tool_calls is defined %}{{ message.tool_calls | tojson }}{% endif %}"
      "{{ '<|im_end|>\\n' }}{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
  return tmpl;
}

void serve(const nlohmann::json& body, bool chat) {
  using synaptix::serve::ApiError;
  try {
    const synaptix::serve::CompletionParams p = synaptix::serve::parse_completion_request(body, chat, kModel);
    const auto& tok = tokenizer();
    volatile size_t sink = 0;
    synaptix::fuzz::expect_clean([&] {
      if (chat) {
        const std::string text = chat_template().render(p.messages, true, {{"bos_token", tok.bos_token()}});
        sink = sink + tok.encode(text, false).size();
      } else if (p.prompt_text) {
        sink = sink + tok.encode(*p.prompt_text, true).size();
      }
    });
  } catch (const ApiError& e) {
    if (e.status() < 400 || e.status() > 599) std::abort();
    volatile size_t sink = e.body().dump().size();  // the server sends this; it must serialise
    (void)sink;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using synaptix::serve::ApiError;
  nlohmann::json body;
  try {
    body = synaptix::serve::parse_json_body(std::string(synaptix::fuzz::as_text(data, size)));
  } catch (const ApiError& e) {
    if (e.status() != 400) std::abort();
    return 0;
  }
  serve(body, /*chat=*/true);
  serve(body, /*chat=*/false);
  return 0;
}
