#include "synaptix/model/jinja_methods.h"

#include <algorithm>

#include "synaptix/core/error.h"
#include "synaptix/model/jinja_sandbox.h"
#include "synaptix/model/jinja_strings.h"

namespace synaptix::model::jinja {
namespace {

const Value& required(const Args& a, size_t index, const char* param, const std::string& method) {
  const Value* v = a.get(index, param);
  if (!v) fail(method, "() missing required argument '", param, "'");
  return *v;
}

std::optional<std::string> optional_string(const Args& a, size_t index, const char* param) {
  const Value* v = a.get(index, param);
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string()) fail("expected a string for '", param, "', got ", v->type_name());
  return v->as_string();
}

int64_t optional_int(const Args& a, size_t index, const char* param, int64_t fallback) {
  const Value* v = a.get(index, param);
  if (!v || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool()) fail("expected an integer for '", param, "', got ", v->type_name());
  return v->as_int();
}

// startswith/endswith take a string or a tuple of strings.
bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& v) {
    if (!v.is_string()) fail(prefix ? "startswith" : "endswith", ": expected a string, got ", v.type_name());
    const std::string& a = v.as_string();
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) return std::any_of(affix.as_list().begin(), affix.as_list().end(), one);
  return one(affix);
}

// str.format with {} / {0} / {name} fields; format specs are not supported and say so.
std::string format_string(const std::string& fmt, const Args& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt.find('}', i);
      if (close == std::string::npos) fail("str.format: single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, close - i - 1);
      if (field.find_first_of(":!") != std::string::npos) fail("str.format: format specs are not supported: {", field, "}");
      const Value* v = nullptr;
      if (field.empty()) {
        v = auto_index < a.positional.size() ? &a.positional[auto_index] : nullptr;
        ++auto_index;
      } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
        size_t k = std::stoul(field);
        v = k < a.positional.size() ? &a.positional[k] : nullptr;
      } else {
        v = a.get(SIZE_MAX, field);
      }
      if (!v) fail("str.format: no argument for field {", field, "}");
      out += v->str();
      check_string_size(out.size(), "a formatted string");
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

bool all_code_points(const std::string& s, bool (*pred)(char32_t)) {
  std::u32string cps = utf8_decode(s);
  return !cps.empty() && std::all_of(cps.begin(), cps.end(), pred);
}

Value string_method(const std::string& s, const std::string& name, const Args& a) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    StripSide side = name == "strip" ? StripSide::Both : name == "lstrip" ? StripSide::Left : StripSide::Right;
    return py_strip(s, optional_string(a, 0, "chars"), side);
  }
  if (name == "split") {
    List parts;
    for (auto& p : py_split(s, optional_string(a, 0, "sep"), optional_int(a, 1, "maxsplit", -1))) parts.emplace_back(p);
    return Value(std::move(parts));
  }
  if (name == "splitlines") {
    List lines;
    size_t start = 0;
    while (start < s.size()) {
      size_t nl = s.find_first_of("\r\n", start);
      if (nl == std::string::npos) nl = s.size();
      lines.emplace_back(s.substr(start, nl - start));
      check_list_size(lines.size(), "a list of lines");
      if (nl < s.size() && s[nl] == '\r' && nl + 1 < s.size() && s[nl + 1] == '\n') ++nl;
      start = nl + 1;
    }
    return Value(std::move(lines));
  }
  if (name == "startswith") return affix_match(s, required(a, 0, "prefix", name), true);
  if (name == "endswith") return affix_match(s, required(a, 0, "suffix", name), false);
  if (name == "upper") return py_upper(s);
  if (name == "lower") return py_lower(s);
  if (name == "title") return py_title(s);
  if (name == "capitalize") return py_capitalize(s);
  if (name == "replace") {
    return py_replace(s, required(a, 0, "old", name).str(), required(a, 1, "new", name).str(),
                      optional_int(a, 2, "count", -1));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    std::string sub = required(a, 0, "sub", name).str();
    if (name == "count") {
      if (sub.empty()) return Value(static_cast<int64_t>(py_len(s) + 1));
      int64_t n = 0;
      for (size_t at = find_substring(s, sub); at != std::string::npos; at = find_substring(s, sub, at + sub.size())) {
        ++n;
        charge(1);
      }
      return Value(n);
    }
    size_t at = (name == "find" || name == "index") ? find_substring(s, sub) : rfind_substring(s, sub);
    if (at == std::string::npos) {
      if (name == "index" || name == "rindex") fail("str.", name, ": substring not found");
      return Value(-1);
    }
    return Value(static_cast<int64_t>(py_len(s.substr(0, at))));
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& item : required(a, 0, "iterable", name).iterate()) {
      if (!item.is_string()) fail("str.join: expected str items, got ", item.type_name());
      if (!first) out += s;
      first = false;
      out += item.as_string();
      charge(1);
      check_string_size(out.size(), "a joined string");
    }
    return out;
  }
  if (name == "format") return format_string(s, a);
  if (name == "isdigit") return all_code_points(s, [](char32_t c) { return c >= U'0' && c <= U'9'; });
  if (name == "isalpha") {
    return all_code_points(s, [](char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') || c > 0x7F; });
  }
  if (name == "isspace") return !s.empty() && py_strip(s, std::nullopt, StripSide::Both).empty();
  if (name == "islower") return py_lower(s) == s && py_upper(s) != s;
  if (name == "isupper") return py_upper(s) == s && py_lower(s) != s;
  fail("'str' object has no attribute '", name, "'");
}

Value dict_method(const Value& d, const std::string& name, const Args& a) {
  const Dict& dict = d.as_dict();
  if (name == "items") {
    List out;
    for (const auto& [k, v] : dict.entries) out.emplace_back(List{Value(k), v});
    return Value(std::move(out));
  }
  if (name == "keys") {
    List out;
    for (const auto& e : dict.entries) out.emplace_back(e.first);
    return Value(std::move(out));
  }
  if (name == "values") {
    List out;
    for (const auto& e : dict.entries) out.push_back(e.second);
    return Value(std::move(out));
  }
  if (name == "get") {
    const Value& key = required(a, 0, "key", name);
    const Value* got = key.is_string() ? dict.find(key.as_string()) : nullptr;
    if (got) return *got;
    const Value* fallback = a.get(1, "default");
    return fallback ? *fallback : Value::none();
  }
  fail("'dict' object has no attribute '", name, "'");
}

Value list_method(const List& l, const std::string& name, const Args& a) {
  const Value& x = required(a, 0, "value", name);
  if (name == "count") return Value(static_cast<int64_t>(std::count_if(l.begin(), l.end(), [&](const Value& v) { return equals(v, x); })));
  for (size_t i = 0; i < l.size(); ++i) {
    if (equals(l[i], x)) return Value(static_cast<int64_t>(i));
  }
  fail("list.index: ", x.repr(), " is not in list");
}

bool has_method(const Value& obj, std::string_view name) {
  static const std::vector<std::string_view> kString = {
      "strip", "lstrip", "rstrip", "split", "splitlines", "startswith", "endswith", "upper", "lower", "title",
      "capitalize", "replace", "find", "rfind", "index", "rindex", "count", "join", "format", "isdigit",
      "isalpha", "isspace", "islower", "isupper"};
  static const std::vector<std::string_view> kDict = {"items", "keys", "values", "get"};
  static const std::vector<std::string_view> kList = {"index", "count"};
  auto in = [&](const std::vector<std::string_view>& names) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  if (obj.is_string()) return in(kString);
  if (obj.is_dict() && !obj.as_dict().is_namespace) return in(kDict);
  if (obj.is_list()) return in(kList);
  return false;
}

}  // namespace

std::string percent_format(const std::string& fmt, const Value& args) {
  List positional = args.is_list() ? args.as_list() : (args.is_dict() ? List{} : List{args});
  const Dict* mapping = args.is_dict() ? &args.as_dict() : nullptr;
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) fail("incomplete format: '%' at the end of the format string");
    const Value* v = nullptr;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos || !mapping) fail("format requires a mapping for %(key) fields");
      std::string key = fmt.substr(i + 1, close - i - 1);
      v = mapping->find(key);
      if (!v) fail("format: key '", key, "' is missing from the mapping");
      i = close + 1;
      if (i >= fmt.size()) fail("incomplete format after %(", key, ")");
    }
    std::string spec;  // flags, width and precision: [-+ 0#]*\d*(\.\d+)?
    while (i < fmt.size() && std::string_view("-+ 0#.0123456789").find(fmt[i]) != std::string_view::npos) spec += fmt[i++];
    // Widths and precisions are numbers of characters to make: refuse absurd ones before formatting.
    for (size_t k = 0, run = 0; k < spec.size(); ++k) {
      run = (spec[k] >= '0' && spec[k] <= '9') ? run + 1 : 0;
      if (run > 5) fail("format: width or precision in '%", spec, "' is larger than 99999");
    }
    if (i >= fmt.size()) fail("incomplete format: '%", spec, "'");
    char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!v) {
      if (next >= positional.size()) fail("not enough arguments for format string");
      v = &positional[next++];
    }
    std::string f = "%" + spec;
    switch (conv) {
      case 's':
      case 'r': {
        std::string text = conv == 's' ? v->str() : v->repr();
        size_t dot = spec.find('.');
        if (dot != std::string::npos) {  // precision truncates, in code points
          size_t keep = std::stoul("0" + spec.substr(dot + 1));
          std::u32string cps = utf8_decode(text);
          if (cps.size() > keep) text = utf8_encode(cps.substr(0, keep));
        }
        bool left = spec.find('-') != std::string::npos;
        std::string digits;
        for (char c : spec.substr(0, dot)) {
          if (c >= '0' && c <= '9' && !(digits.empty() && c == '0')) digits += c;
        }
        size_t width = digits.empty() ? 0 : std::stoul(digits);
        size_t len = py_len(text);
        std::string pad = width > len ? std::string(width - len, ' ') : "";
        out += left ? text + pad : pad + text;
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X': {
        if (!v->is_number()) fail("%", std::string(1, conv), " format: a real number is required, not ", v->type_name());
        long long n = v->is_float() ? static_cast<long long>(v->as_double()) : static_cast<long long>(v->as_int());
        const std::string cfmt = f + "ll" + (conv == 'i' ? 'd' : conv);
        std::string text(static_cast<size_t>(std::snprintf(nullptr, 0, cfmt.c_str(), n)), '\0');
        std::snprintf(text.data(), text.size() + 1, cfmt.c_str(), n);
        out += text;
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'g': {
        if (!v->is_number()) fail("%", std::string(1, conv), " format: a real number is required, not ", v->type_name());
        const std::string cfmt = f + conv;
        std::string text(static_cast<size_t>(std::snprintf(nullptr, 0, cfmt.c_str(), v->as_double())), '\0');
        std::snprintf(text.data(), text.size() + 1, cfmt.c_str(), v->as_double());
        out += text;
        break;
      }
      default: fail("unsupported format character '", std::string(1, conv), "'");
    }
    check_string_size(out.size(), "a formatted string");
  }
  if (!mapping && next < positional.size()) fail("not all arguments converted during string formatting");
  return out;
}

Value bound_method(const Value& obj, std::string_view name) {
  if (!has_method(obj, name)) return Value::undefined(std::string(name));
  std::string method(name);
  return Value(Callable{obj.type_name() + "." + method, [obj, method](const Args& a) -> Value {
                          if (obj.is_string()) return string_method(obj.as_string(), method, a);
                          if (obj.is_dict()) return dict_method(obj, method, a);
                          return list_method(obj.as_list(), method, a);
                        }});
}

}  // namespace synaptix::model::jinja
