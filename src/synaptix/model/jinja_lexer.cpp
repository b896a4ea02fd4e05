#include "synaptix/model/jinja_lexer.h"

#include "synaptix/model/utf8.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace synaptix::model::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

void rstrip_all(std::string& s) {
  while (!s.empty() && is_space(s.back())) s.pop_back();
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) {
    // Jinja normalizes newlines and, without keep_trailing_newline, drops one trailing newline.
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        src_ += '\n';
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        src_ += source[i];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    size_t p = 0;
    bool line_starting = true;  // the text at p begins a line (lstrip_blocks looks at this)
    while (p < src_.size()) {
      size_t start = find_tag(p);
      std::string text = src_.substr(p, start - p);
      if (start == src_.size()) {
        emit_data(std::move(text), p);
        break;
      }
      char kind = src_[start + 1];  // '{', '%' or '#'
      size_t inner = start + 2;
      char modifier = inner < src_.size() ? src_[inner] : '\0';
      if (modifier == '-') {
        rstrip_all(text);
      } else if (kind != '{' && modifier != '+') {
        lstrip_before_tag(text, line_starting);
      }
      emit_data(std::move(text), p);
      if (modifier == '-' || modifier == '+') ++inner;

      if (kind == '#') {
        size_t end = src_.find("#}", inner);
        if (end == std::string::npos) syntax_error(pos(start), "comment is not closed: expected '#}'");
        p = after_block_end(end + 2, end > inner && src_[end - 1] == '-', end > inner && src_[end - 1] == '+');
      } else if (kind == '%' && is_raw_begin(inner)) {
        p = lex_raw(start, inner);
      } else {
        p = lex_tag(start, inner, kind == '%');
      }
      line_starting = p > 0 && src_[p - 1] == '\n';
    }
    tokens_.push_back(Token{TokenType::Eof, "", pos(src_.size())});
    return std::move(tokens_);
  }

 private:
  SourcePos pos(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return SourcePos{static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  void emit_data(std::string text, size_t offset) {
    if (!text.empty()) tokens_.push_back(Token{TokenType::Data, std::move(text), pos(offset)});
  }

  // lstrip_blocks: drop the spaces and tabs between the start of a line and a block or comment tag.
  // `line_starting` says whether `text` itself begins a line.
  static void lstrip_before_tag(std::string& text, bool line_starting) {
    size_t line_begin = text.rfind('\n');
    line_begin = line_begin == std::string::npos ? 0 : line_begin + 1;
    if ((line_begin > 0 || line_starting) && text.find_first_not_of(" \t", line_begin) == std::string::npos) {
      text.resize(line_begin);
    }
  }

  // After `%}` or `#}` at `end`: `-` eats all following whitespace; otherwise trim_blocks eats one newline
  // unless `+` turned it off.
  size_t after_block_end(size_t end, bool strip, bool plus) const {
    if (strip) {
      while (end < src_.size() && is_space(src_[end])) ++end;
    } else if (!plus && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    return end;
  }

  // `{% raw %}` (with optional whitespace control) starting after `{%` and its modifier.
  bool is_raw_begin(size_t p) const {
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return false;
    p += 3;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (p < src_.size() && src_[p] == '-') ++p;  // Jinja's raw-begin pattern takes `-%}` but not `+%}`
    return src_.compare(p, 2, "%}") == 0;
  }

  size_t lex_raw(size_t start, size_t p) {
    size_t close = src_.find("%}", p);
    bool strip_after_begin = src_[close - 1] == '-';
    size_t body = close + 2;
    if (strip_after_begin) {
      while (body < src_.size() && is_space(src_[body])) ++body;
    }
    for (size_t i = src_.find("{%", body); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t q = i + 2;
      bool strip_before = q < src_.size() && src_[q] == '-';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) continue;
      q += 6;
      while (q < src_.size() && is_space(src_[q])) ++q;
      char mod = q < src_.size() ? src_[q] : '\0';
      if (mod == '-' || mod == '+') ++q;
      if (src_.compare(q, 2, "%}") != 0) continue;
      std::string text = src_.substr(body, i - body);
      if (strip_before) {
        rstrip_all(text);
      } else if (src_[i + 2] != '+') {
        lstrip_before_tag(text, body > 0 && src_[body - 1] == '\n');
      }
      emit_data(std::move(text), body);
      return after_block_end(q + 2, mod == '-', mod == '+');
    }
    syntax_error(pos(start), "'raw' block is not closed: expected '{% endraw %}'");
  }

  size_t lex_tag(size_t start, size_t p, bool is_block) {
    tokens_.push_back(Token{is_block ? TokenType::BlockBegin : TokenType::VarBegin, "", pos(start)});
    const char* closer = is_block ? "%}" : "}}";
    std::vector<char> brackets;  // the tag ends only at depth 0, so `{{ {'a': {}} }}` lexes
    while (true) {
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (p >= src_.size()) {
        syntax_error(pos(start), "tag is not closed: expected '", closer, "' before the end of the template");
      }
      char c = src_[p];
      if (brackets.empty()) {
        bool modifier = (c == '-' || (c == '+' && is_block));
        if (src_.compare(p, 2, closer) == 0 || (modifier && src_.compare(p + 1, 2, closer) == 0)) {
          size_t end = p + (modifier ? 3 : 2);
          tokens_.push_back(Token{is_block ? TokenType::BlockEnd : TokenType::VarEnd, "", pos(p)});
          if (is_block) return after_block_end(end, c == '-', c == '+');
          if (c == '-') {
            while (end < src_.size() && is_space(src_[end])) ++end;
          }
          return end;
        }
      }
      SourcePos at = pos(p);
      if (is_name_start(c)) {
        size_t e = p;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        tokens_.push_back(Token{TokenType::Name, src_.substr(p, e - p), at});
        p = e;
      } else if (is_digit(c)) {
        p = lex_number(p, at);
      } else if (c == '\'' || c == '"') {
        p = lex_string(p, at);
      } else {
        static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
                                     ">", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "="};
        std::string op;
        for (const char* candidate : kOps) {
          if (src_.compare(p, std::char_traits<char>::length(candidate), candidate) == 0) {
            op = candidate;
            break;
          }
        }
        if (op.empty()) syntax_error(at, "unexpected character '", std::string(1, c), "'");
        if (op == "(" || op == "[" || op == "{") {
          brackets.push_back(op[0]);
        } else if (op == ")" || op == "]" || op == "}") {
          char open = op == ")" ? '(' : op == "]" ? '[' : '{';
          if (brackets.empty() || brackets.back() != open) {
            syntax_error(at, "unexpected '", op, "'", brackets.empty() ? "" : ": brackets do not match");
          }
          brackets.pop_back();
        }
        tokens_.push_back(Token{TokenType::Op, op, at});
        p += op.size();
      }
    }
  }

  size_t lex_number(size_t p, SourcePos at) {
    size_t e = p;
    std::string digits;
    auto read_digits = [&] {
      while (e < src_.size() && (is_digit(src_[e]) || (src_[e] == '_' && e + 1 < src_.size() && is_digit(src_[e + 1])))) {
        if (src_[e] != '_') digits += src_[e];
        ++e;
      }
    };
    read_digits();
    bool is_float = false;
    // `x.0.1` is two attribute lookups, not a float: Jinja reads a fraction only when no '.' precedes.
    bool after_dot = !tokens_.empty() && tokens_.back().type == TokenType::Op && tokens_.back().text == ".";
    if (!after_dot && e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
      is_float = true;
      digits += '.';
      ++e;
      read_digits();
    }
    if (!after_dot && e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t q = e + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && is_digit(src_[q])) {
        is_float = true;
        digits += 'e';
        digits.append(src_, e + 1, q - e - 1);
        e = q;
        read_digits();
      }
    }
    Token t{is_float ? TokenType::Float : TokenType::Int, src_.substr(p, e - p), at};
    if (is_float) {
      t.float_value = std::strtod(digits.c_str(), nullptr);
    } else {
      errno = 0;
      t.int_value = std::strtoll(digits.c_str(), nullptr, 10);
      if (errno == ERANGE) syntax_error(at, "integer literal ", digits, " does not fit in 64 bits");
    }
    tokens_.push_back(std::move(t));
    return e;
  }

  // Python string-literal escapes, as Jinja decodes them with "unicode-escape"; unknown escapes stay as is.
  size_t lex_string(size_t p, SourcePos at) {
    char quote = src_[p];
    std::string value;
    size_t i = p + 1;
    while (true) {
      if (i >= src_.size()) syntax_error(at, "string literal is not closed: expected ", std::string(1, quote));
      char c = src_[i];
      if (c == quote) break;
      if (c != '\\' || i + 1 >= src_.size()) {
        value += c;
        ++i;
        continue;
      }
      char e = src_[i + 1];
      i += 2;
      auto hex = [&](int n) {
        uint32_t cp = 0;
        for (int k = 0; k < n; ++k, ++i) {
          char h = i < src_.size() ? src_[i] : '\0';
          int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
          if (d < 0) syntax_error(at, "truncated \\", std::string(1, e), " escape in string literal");
          cp = cp * 16 + static_cast<uint32_t>(d);
        }
        model::append_utf8(value, static_cast<char32_t>(cp));
      };
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\n': break;  // line continuation
        case 'x': hex(2); break;
        case 'u': hex(4); break;
        case 'U': hex(8); break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k, ++i) {
              cp = cp * 8 + static_cast<uint32_t>(src_[i] - '0');
            }
            model::append_utf8(value, static_cast<char32_t>(cp));
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    tokens_.push_back(Token{TokenType::String, std::move(value), at});
    return i + 1;
  }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace synaptix::model::jinja
