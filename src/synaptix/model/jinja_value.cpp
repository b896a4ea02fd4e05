#include "synaptix/model/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "synaptix/core/error.h"
#include "synaptix/model/jinja_sandbox.h"
#include "synaptix/model/utf8.h"

namespace synaptix::model::jinja {

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  for (auto& [k, old] : entries) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  entries.emplace_back(key, std::move(v));
}

const Value* Args::get(size_t index, std::string_view name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [k, v] : keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

int64_t Value::as_int() const {
  if (is_bool()) return as_bool() ? 1 : 0;
  return std::get<int64_t>(v_);
}

double Value::as_double() const {
  if (is_float()) return std::get<double>(v_);
  return static_cast<double>(as_int());
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return as_bool();
    case Kind::Int: return as_int() != 0;
    case Kind::Float: return as_double() != 0.0;
    case Kind::String: return !as_string().empty();
    case Kind::List: return !as_list().empty();
    case Kind::Dict: return !as_dict().entries.empty();
    case Kind::Callable: return true;
  }
  return false;
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  // Shortest round-trip digits in scientific form "d.ddde±x", then laid out by Python's repr rules.
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out = negative ? "-" : "";
  int decpt = exponent + 1;  // value = 0.digits * 10^decpt
  if (decpt > 16 || decpt <= -4) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += ebuf;
  } else if (decpt <= 0) {
    out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(decpt) - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
  }
  return out;
}

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) {  // invalid byte: keep it as U+FFFD rather than fail mid-render
      out += U'\uFFFD';
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out += cp;
    i += len;
  }
  return out;
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) model::append_utf8(out, cp);
  return out;
}

namespace {

std::string python_string_repr(const std::string& s) {
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, quote);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (ch == quote || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += quote;
  return out;
}

// json.dumps escaping: quotes, backslashes and control characters; with ensure_ascii=False the rest passes
// through as UTF-8.
void json_escape_byte(char ch, std::string& out) {
  auto c = static_cast<unsigned char>(ch);
  switch (ch) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += ch;
      }
  }
}

void json_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out += '"';
  if (ensure_ascii) {  // \uXXXX for every non-ASCII code point, UTF-16 surrogate pairs above the BMP
    for (char32_t cp : utf8_decode(s)) {
      char buf[16];
      if (cp < 0x80) {
        json_escape_byte(static_cast<char>(cp), out);
        continue;
      }
      if (cp < 0x10000) {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      } else {
        char32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      }
      out += buf;
    }
  } else {
    for (char ch : s) json_escape_byte(ch, out);
  }
  out += '"';
}

// Containers nested deeper than this are refused (a namespace can hold itself), as is output past the string
// limit; every value visited is a step.
void enter_value(int level, std::string& out, const char* what) {
  charge(1);
  if (level > current_limits().max_nesting)
    limit_exceeded(what, current_limits().max_nesting, "max_nesting");
  check_string_size(out.size(), "a printed value");
}

void json_dump(const Value& v, const Value::JsonStyle& style, int level, std::string& out) {
  enter_value(level, out, "levels of nesting in tojson");
  const int indent = style.indent;
  auto newline = [&](int lvl) {
    out += '\n';
    const size_t pad = static_cast<size_t>(indent) * static_cast<size_t>(lvl);
    check_string_size(out.size() + pad, "a printed value");
    out.append(pad, ' ');
  };
  const std::string item_sep = !style.item_separator.empty() ? style.item_separator : indent >= 0 ? "," : ", ";
  switch (v.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.as_int()); return;
    case Value::Kind::Float: {
      double d = v.as_double();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else out += python_float_repr(d);
      return;
    }
    case Value::Kind::String: json_string(v.as_string(), style.ensure_ascii, out); return;
    case Value::Kind::List: {
      const List& l = v.as_list();
      if (l.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) out += item_sep;
        if (indent >= 0) newline(level + 1);
        json_dump(l[i], style, level + 1, out);
      }
      if (indent >= 0) newline(level);
      out += ']';
      return;
    }
    case Value::Kind::Dict: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.as_dict().entries) entries.push_back(&e);
      if (entries.empty()) {
        out += "{}";
        return;
      }
      if (style.sort_keys) {
        std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += item_sep;
        if (indent >= 0) newline(level + 1);
        json_string(entries[i]->first, style.ensure_ascii, out);
        out += style.key_separator;
        json_dump(entries[i]->second, style, level + 1, out);
      }
      if (indent >= 0) newline(level);
      out += '}';
      return;
    }
    case Value::Kind::Undefined:
      fail("tojson: '", v.undefined_name(), "' is undefined and not JSON serializable");
    case Value::Kind::Callable:
      fail("tojson: function '", v.as_callable().name, "' is not JSON serializable");
  }
}

}  // namespace

std::string Value::str() const {
  switch (kind()) {
    case Kind::Undefined: return "";
    case Kind::String: return as_string();
    default: return repr();
  }
}

namespace {

void repr_into(const Value& v, int level, std::string& out) {
  enter_value(level, out, "levels of nesting in a printed value");
  switch (v.kind()) {
    case Value::Kind::Undefined: return;
    case Value::Kind::None: out += "None"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "True" : "False"; return;
    case Value::Kind::Int: out += std::to_string(v.as_int()); return;
    case Value::Kind::Float: out += python_float_repr(v.as_double()); return;
    case Value::Kind::String: out += python_string_repr(v.as_string()); return;
    case Value::Kind::List: {
      out += "[";
      const List& l = v.as_list();
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) out += ", ";
        repr_into(l[i], level + 1, out);
      }
      out += "]";
      return;
    }
    case Value::Kind::Dict: {
      out += v.as_dict().is_namespace ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, item] : v.as_dict().entries) {
        if (!first) out += ", ";
        first = false;
        out += python_string_repr(k) + ": ";
        repr_into(item, level + 1, out);
      }
      out += v.as_dict().is_namespace ? "}>" : "}";
      return;
    }
    case Value::Kind::Callable: out += "<function " + v.as_callable().name + ">"; return;
  }
}

}  // namespace

std::string Value::repr() const {
  std::string out;
  repr_into(*this, 0, out);
  check_string_size(out.size(), "a printed value");
  return out;
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return "list";
    case Kind::Dict: return as_dict().is_namespace ? "Namespace" : "dict";
    case Kind::Callable: return "function";
  }
  return "";
}

List Value::iterate() const {
  switch (kind()) {
    case Kind::Undefined: return {};
    case Kind::List: return as_list();
    case Kind::Dict: {
      List keys;
      for (const auto& e : as_dict().entries) keys.emplace_back(e.first);
      return keys;
    }
    case Kind::String: {
      std::u32string cps = utf8_decode(as_string());
      check_list_size(cps.size(), "the characters of a string");
      charge(static_cast<int64_t>(cps.size() / 16));
      List chars;
      chars.reserve(cps.size());
      for (char32_t cp : cps) chars.emplace_back(utf8_encode(std::u32string(1, cp)));
      return chars;
    }
    default: fail("'", type_name(), "' object is not iterable");
  }
}

namespace {

template <typename Json>
Value value_from_json(const Json& j, int level) {
  if (level > current_limits().max_nesting)
    fail("chat template input nests deeper than ", current_limits().max_nesting, " levels (max_nesting)");
  switch (j.type()) {
    case Json::value_t::null: return Value::none();
    case Json::value_t::boolean: return Value(j.template get<bool>());
    case Json::value_t::number_integer: return Value(j.template get<int64_t>());
    case Json::value_t::number_unsigned: {
      auto u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case Json::value_t::number_float: return Value(j.template get<double>());
    case Json::value_t::string: return Value(j.template get<std::string>());
    case Json::value_t::array: {
      List l;
      l.reserve(j.size());
      for (const auto& item : j) l.push_back(value_from_json(item, level + 1));
      return Value(std::move(l));
    }
    case Json::value_t::object: {
      Dict d;
      for (const auto& [k, item] : j.items()) d.entries.emplace_back(k, value_from_json(item, level + 1));
      return Value(std::move(d));
    }
    default: fail("chat template input: JSON value of type ", j.type_name(), " has no template equivalent");
  }
}

}  // namespace

Value Value::from_json(const nlohmann::json& j) { return value_from_json(j, 0); }
Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j, 0); }

std::string Value::to_json(const JsonStyle& style) const {
  std::string out;
  json_dump(*this, style, 0, out);
  check_string_size(out.size(), "a printed value");
  return out;
}

namespace {

// Every pair compared is a step; containers nested deeper than the limit (a namespace holding itself) are
// refused rather than followed off the stack.
void enter_comparison(int level) {
  charge(1);
  if (level > current_limits().max_nesting)
    limit_exceeded("levels of nesting in a comparison", current_limits().max_nesting, "max_nesting");
}

bool equals_at(const Value& a, const Value& b, int level);
int compare_at(const Value& a, const Value& b, int level);

}  // namespace

bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }
int compare(const Value& a, const Value& b) { return compare_at(a, b, 0); }

namespace {

bool equals_at(const Value& a, const Value& b, int level) {
  enter_comparison(level);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.as_string() == b.as_string();
    case Value::Kind::List: {
      const List &x = a.as_list(), &y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals_at(x[i], y[i], level + 1)) return false;
      }
      return true;
    }
    case Value::Kind::Dict: {
      const Dict &x = a.as_dict(), &y = b.as_dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* other = y.find(k);
        if (!other || !equals_at(v, *other, level + 1)) return false;
      }
      return true;
    }
    case Value::Kind::Callable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

int compare_at(const Value& a, const Value& b, int level) {
  enter_comparison(level);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    // Byte order of UTF-8 is code-point order, which is Python's string order.
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const List &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals_at(x[i], y[i], level + 1)) return compare_at(x[i], y[i], level + 1);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  fail("'<' not supported between instances of '", a.type_name(), "' and '", b.type_name(), "'");
}

}  // namespace

}  // namespace synaptix::model::jinja
