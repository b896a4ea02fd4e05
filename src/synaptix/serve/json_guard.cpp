#include "synaptix/serve/json_guard.h"

#include <string>

#include "synaptix/serve/openai_api.h"

namespace synaptix::serve {

void check_json_limits(std::string_view body, const JsonLimits& limits) {
  size_t depth = 0, values = 0;
  bool in_string = false, escaped = false, in_scalar = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    const bool scalar_char = c != '"' && c != '[' && c != '{' && c != ']' && c != '}' && c != ',' && c != ':' &&
                             c != ' ' && c != '\t' && c != '\n' && c != '\r';
    if (scalar_char) {
      if (!in_scalar) ++values;  // a number, true, false or null starts
      in_scalar = true;
    } else {
      in_scalar = false;
    }
    if (c == '"') {
      in_string = true;
      ++values;  // a string or a key (keys counted too: they are stored)
    } else if (c == '[' || c == '{') {
      ++values;
      if (++depth > limits.max_depth) {
        throw ApiError(400, "the request body nests JSON deeper than " + std::to_string(limits.max_depth) +
                                " levels (at byte " + std::to_string(i) + ")");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    if (values > limits.max_values) {
      throw ApiError(400, "the request body holds more than " + std::to_string(limits.max_values) +
                              " JSON values (at byte " + std::to_string(i) + ")");
    }
  }
}

}  // namespace synaptix::serve
