#pragma once
// Renders a parsed template: walks the syntax tree with Jinja2's scoping (a for loop's body is its own scope,
// so `set` inside it does not leak; namespace() objects carry state out), Undefined for unknown names, and
// Python semantics for operators. Runtime errors throw synaptix::Error "chat template render error at L:C:
// ..."; raise_exception() throws TemplateRaised with the template's own message.
#include <string>

#include "synaptix/model/jinja_ast.h"
#include "synaptix/model/jinja_sandbox.h"
#include "synaptix/model/jinja_value.h"

namespace synaptix::model::jinja {

// `variables` are the template's context (messages, add_generation_prompt, bos_token, ...); builtin
// functions (range, namespace, raise_exception, ...) are visible beneath them. Exceeding one of `limits`
// throws synaptix::Error naming the limit and its value.
std::string render(const Body& tmpl, const Dict& variables, const Limits& limits = {});

}  // namespace synaptix::model::jinja
