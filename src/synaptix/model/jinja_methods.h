#pragma once
// Methods of Python objects that templates call: str (strip, split, startswith, format, ...), dict (items,
// keys, values, get) and list (index, count). Lists and dicts are read-only, as in transformers' immutable
// sandbox, so no mutating method exists.
#include <string_view>

#include "synaptix/model/jinja_value.h"

namespace synaptix::model::jinja {

// `obj.name` bound as a callable, or Undefined when `obj` has no method `name`.
Value bound_method(const Value& obj, std::string_view name);

// Python's `fmt % args` (str.__mod__), as the `%` operator and the `format` filter use it: %s %r %d %i %f
// %x %%, and %(key)s with a dict. A list stands for Python's tuple of arguments.
std::string percent_format(const std::string& fmt, const Value& args);

}  // namespace synaptix::model::jinja
