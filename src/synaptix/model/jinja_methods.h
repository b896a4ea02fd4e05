#pragma once
// Methods of Python objects that templates call: str (strip, split, startswith, format, ...), dict (items,
// keys, values, get) and list (index, count). Lists and dicts are read-only, as in transformers' immutable
// sandbox, so no mutating method exists.
#include <string_view>

#include "synaptix/model/jinja_value.h"

namespace synaptix::model::jinja {

// `obj.name` bound as a callable, or Undefined when `obj` has no method `name`.
Value bound_method(const Value& obj, std::string_view name);

}  // namespace synaptix::model::jinja
