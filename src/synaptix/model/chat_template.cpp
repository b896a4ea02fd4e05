#include "synaptix/model/chat_template.h"

#include "synaptix/core/error.h"
#include "synaptix/model/jinja_eval.h"
#include "synaptix/model/jinja_parser.h"

namespace synaptix::model {

struct jinja::ParsedTemplate {
  Body body;
};

ChatTemplate::ChatTemplate(std::string source, const jinja::Limits& limits)
    : source_(std::move(source)),
      limits_(limits),
      parsed_(std::make_shared<const jinja::ParsedTemplate>(
          jinja::ParsedTemplate{jinja::parse_template(source_, limits_)})) {}

namespace {

template <typename Json>
std::string render_with(const jinja::Body& body, const jinja::Limits& limits, const Json& messages,
                        bool add_generation_prompt, const Json& extra) {
  if (!messages.is_array()) fail("chat template: 'messages' must be a JSON array, got ", messages.type_name());
  if (!extra.is_object()) fail("chat template: extra variables must be a JSON object, got ", extra.type_name());
  jinja::Dict vars;
  for (const auto& [k, v] : extra.items()) vars.set(k, jinja::Value::from_json(v));
  vars.set("messages", jinja::Value::from_json(messages));
  vars.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  return jinja::render(body, vars, limits);
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::json& messages, bool add_generation_prompt,
                                 const nlohmann::json& extra) const {
  return render_with(parsed_->body, limits_, messages, add_generation_prompt, extra);
}

std::string ChatTemplate::render_ordered(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                         const nlohmann::ordered_json& extra) const {
  return render_with(parsed_->body, limits_, messages, add_generation_prompt, extra);
}

}  // namespace synaptix::model
