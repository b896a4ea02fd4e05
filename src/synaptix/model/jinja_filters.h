#pragma once
// Jinja2's builtin filters (`x | name(args)`) and tests (`x is name(args)`), with transformers' overrides
// (tojson without HTML escaping, with indent). Errors throw synaptix::Error naming the filter or test; the
// interpreter adds the template position.
#include <string_view>

#include "synaptix/model/jinja_value.h"

namespace synaptix::model::jinja {

using FilterFn = Value (*)(const Value& value, const Args& args);
using TestFn = bool (*)(const Value& value, const Args& args);

FilterFn find_filter(std::string_view name);  // nullptr when Jinja has no such filter (or we lack it)
TestFn find_test(std::string_view name);      // nullptr when unknown

}  // namespace synaptix::model::jinja
