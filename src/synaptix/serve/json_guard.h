#pragma once
// Bounds on a JSON request body checked by one linear pass over its bytes before any document is built:
// nesting depth (nlohmann's parser, copies and destructors recurse per level, so a body nested a million
// levels deep would overflow the stack) and the number of values (each costs a node in the document).
#include <cstddef>
#include <string_view>

namespace synaptix::serve {

struct JsonLimits {
  size_t max_depth = 64;          // arrays and objects open at once
  size_t max_values = 1u << 20;   // scalars, arrays and objects in the whole body
};

// Throws ApiError 400 naming the limit and the byte offset where it was passed. Malformed JSON is left to the
// parser (only brackets outside strings are counted here).
void check_json_limits(std::string_view body, const JsonLimits& limits);

}  // namespace synaptix::serve
