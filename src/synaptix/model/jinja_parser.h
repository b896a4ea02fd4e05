#pragma once
// Parses a Jinja2 template into its syntax tree. Syntax errors, unknown filters and unknown tests throw
// synaptix::Error naming the line:column and what was expected, as Jinja reports them at compile time.
#include <string_view>

#include "synaptix/model/jinja_ast.h"
#include "synaptix/model/jinja_sandbox.h"

namespace synaptix::model::jinja {

// Nesting deeper than limits.max_nesting (brackets, blocks, operator chains) is a syntax error naming the limit.
Body parse_template(std::string_view source, const Limits& limits = {});

}  // namespace synaptix::model::jinja
