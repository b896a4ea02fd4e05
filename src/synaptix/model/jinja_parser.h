#pragma once
// Parses a Jinja2 template into its syntax tree. Syntax errors, unknown filters and unknown tests throw
// synaptix::Error naming the line:column and what was expected, as Jinja reports them at compile time.
#include <string_view>

#include "synaptix/model/jinja_ast.h"

namespace synaptix::model::jinja {

Body parse_template(std::string_view source);

}  // namespace synaptix::model::jinja
