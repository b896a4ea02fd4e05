#pragma once
// A model's chat template (the Jinja2 text in tokenizer_config.json's chat_template), parsed once and
// rendered per conversation with the semantics transformers' apply_chat_template uses: trim_blocks,
// lstrip_blocks, no trailing newline, Undefined for unknown names, raise_exception() and strftime_now().
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "synaptix/model/jinja_sandbox.h"

namespace synaptix::model {

namespace jinja {
struct ParsedTemplate;
}

class ChatTemplate {
 public:
  // Parses once; syntax errors throw synaptix::Error naming line:column and what was expected.
  // Copies share the parsed (immutable) template. Parsing and every render run under `limits` (steps, loop
  // iterations, macro recursion, nesting, string and list sizes, wall time); exceeding one throws
  // synaptix::Error naming the limit and its value.
  explicit ChatTemplate(std::string source, const jinja::Limits& limits = {});

  // messages: a JSON array of {role, content, ...}; extra: more variables (bos_token, eos_token, tools,
  // documents, enable_thinking, ...). A template's raise_exception(msg) throws synaptix::Error with msg as
  // is; other runtime errors name the line:column.
  std::string render(const nlohmann::json& messages, bool add_generation_prompt,
                     const nlohmann::json& extra = nlohmann::json::object()) const;

  // The same, keeping the caller's key order in objects. nlohmann::json sorts keys, so a template that prints
  // tools or arguments with tojson would list them sorted; transformers keeps the request's order. Servers
  // that parse requests as ordered_json get transformers' prompt byte for byte.
  std::string render_ordered(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                             const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const std::string& source() const { return source_; }
  const jinja::Limits& limits() const { return limits_; }

 private:
  std::string source_;
  jinja::Limits limits_;
  std::shared_ptr<const jinja::ParsedTemplate> parsed_;
};

}  // namespace synaptix::model
