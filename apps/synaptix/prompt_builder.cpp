#include "synaptix/prompt_builder.h"

#include "synaptix/core/error.h"
#include "synaptix/model/chat_template.h"
#include "synaptix/model/tokenizer.h"

namespace synaptix::app {

std::vector<int32_t> encode_prompt(const model::Tokenizer& tok, const std::string& prompt) {
  return tok.encode(prompt, /*add_special_tokens=*/true);
}

std::vector<int32_t> encode_chat(const model::Tokenizer& tok, const nlohmann::json& messages,
                                 bool add_generation_prompt) {
  if (tok.chat_template().empty())
    fail("--chat: the model has no chat template (tokenizer_config.json chat_template, or tokenizer.chat_template "
         "in a GGUF file)");
  model::ChatTemplate tmpl(tok.chat_template());
  const nlohmann::json extra = {{"bos_token", tok.bos_token()}, {"eos_token", tok.eos_token()}};
  return tok.encode(tmpl.render(messages, add_generation_prompt, extra), /*add_special_tokens=*/false);
}

}  // namespace synaptix::app
