#pragma once
// Tokens of a Jinja2 template, as transformers' environment lexes it: trim_blocks and lstrip_blocks on,
// keep_trailing_newline off, `-` and `+` whitespace control on tags. Whitespace handling happens here, so
// Data tokens already hold exactly the text the template outputs.
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "synaptix/core/error.h"

namespace synaptix::model::jinja {

struct SourcePos {
  int line = 1;
  int col = 1;
};

enum class TokenType {
  Data,        // literal text between tags
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,      // text holds the unescaped value
  Int,
  Float,
  Op,          // punctuation and operators: + - * / // % ** ~ == != < <= > >= ( ) [ ] { } , . : | =
  Eof,
};

struct Token {
  TokenType type;
  std::string text;
  SourcePos pos;
  int64_t int_value = 0;
  double float_value = 0.0;
};

std::vector<Token> tokenize(std::string_view source);

// Throws synaptix::Error "chat template syntax error at L:C: ...".
template <typename... Args>
[[noreturn]] void syntax_error(SourcePos pos, Args&&... args) {
  fail("chat template syntax error at ", pos.line, ":", pos.col, ": ", std::forward<Args>(args)...);
}

}  // namespace synaptix::model::jinja
