// Fuzz target: a chat template (the Jinja text of tokenizer_config.json's chat_template), parsed and rendered
// over a fixed conversation with the variables the server passes, as a request would render it. Templates
// come from model files, so a hostile one must end in an Error: never a crash, a hang or unbounded memory.
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_support.h"
#include "synaptix/model/chat_template.h"

namespace {

const nlohmann::json& conversation() {
  static const nlohmann::json messages = nlohmann::json::parse(R"([
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "4", "tool_calls": [
      {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}]},
    {"role": "tool", "content": "{\"sum\": 4}"},
    {"role": "user", "content": "Thanks! Ünïcödé 🙂"}
  ])");
  return messages;
}

const nlohmann::json& variables() {
  static const nlohmann::json extra = nlohmann::json::parse(R"({
    "bos_token": "<s>", "eos_token": "</s>", "enable_thinking": true,
    "tools": [{"type": "function", "function": {"name": "add", "description": "Adds",
               "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}]
  })");
  return extra;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto source = synaptix::fuzz::as_text(data, size);
  synaptix::fuzz::expect_clean([&] {
    const synaptix::model::ChatTemplate tmpl{std::string(source)};
    volatile size_t sink = tmpl.render(conversation(), /*add_generation_prompt=*/true, variables()).size();
    (void)sink;
  });
  return 0;
}
