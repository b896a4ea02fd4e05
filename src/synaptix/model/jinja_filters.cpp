#include "synaptix/model/jinja_filters.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include <utf8proc.h>

#include "synaptix/core/error.h"
#include "synaptix/model/jinja_methods.h"
#include "synaptix/model/jinja_sandbox.h"
#include "synaptix/model/jinja_strings.h"

namespace synaptix::model::jinja {
namespace {

using Kind = Value::Kind;

const Value* arg(const Args& a, size_t index, std::string_view name) { return a.get(index, name); }

std::optional<std::string> opt_string(const Value* v) {
  if (!v || v->is_none() || v->is_undefined()) return std::nullopt;
  return v->str();
}

int64_t int_arg(const Value* v, int64_t fallback, const char* filter, const char* param) {
  if (!v || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool()) fail(filter, ": '", param, "' must be an integer, got ", v->type_name());
  return v->as_int();
}

bool bool_arg(const Value* v, bool fallback) { return v ? v->truthy() : fallback; }

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return 0;
    case Kind::String: return static_cast<int64_t>(py_len(v.as_string()));
    case Kind::List: return static_cast<int64_t>(v.as_list().size());
    case Kind::Dict: return static_cast<int64_t>(v.as_dict().entries.size());
    default: fail("object of type '", v.type_name(), "' has no len()");
  }
}

// Jinja's environment.getitem for `attribute=` paths: dotted parts, integer parts index lists.
Value get_path(const Value& obj, const std::string& path) {
  Value cur = obj;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur.is_dict()) {
      const Value* v = cur.as_dict().find(part);
      cur = v ? *v : Value::undefined(part);
    } else if (cur.is_list() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      size_t i = std::stoul(part);
      cur = i < cur.as_list().size() ? cur.as_list()[i] : Value::undefined(part);
    } else {
      cur = Value::undefined(part);
    }
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(py_lower(v.as_string()));
  return v;
}

// ---- filters ----

Value f_trim(const Value& v, const Args& a) { return py_strip(v.str(), opt_string(arg(a, 0, "chars")), StripSide::Both); }
Value f_upper(const Value& v, const Args&) { return py_upper(v.str()); }
Value f_lower(const Value& v, const Args&) { return py_lower(v.str()); }
Value f_capitalize(const Value& v, const Args&) { return py_capitalize(v.str()); }
Value f_title(const Value& v, const Args&) { return py_title(v.str()); }
Value f_string(const Value& v, const Args&) { return v.str(); }
Value f_safe(const Value& v, const Args&) { return v; }
Value f_length(const Value& v, const Args&) { return Value(length_of(v)); }

Value f_escape(const Value& v, const Args&) {
  std::string out;
  for (char c : v.str()) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// transformers replaces Jinja's tojson (which HTML-escapes) with
// tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> json.dumps(x, ...).
Value f_tojson(const Value& v, const Args& a) {
  Value::JsonStyle style;
  style.ensure_ascii = bool_arg(arg(a, 0, "ensure_ascii"), false);
  const int64_t indent = int_arg(arg(a, 1, "indent"), -1, "tojson", "indent");
  if (indent > 1024) fail("tojson: indent ", indent, " is larger than 1024 spaces");
  style.indent = static_cast<int>(std::max<int64_t>(indent, -1));
  if (const Value* sep = arg(a, 2, "separators"); sep && !sep->is_none()) {
    if (!sep->is_list() || sep->as_list().size() != 2) fail("tojson: separators must be a pair of strings");
    style.item_separator = sep->as_list()[0].str();
    style.key_separator = sep->as_list()[1].str();
  }
  style.sort_keys = bool_arg(arg(a, 3, "sort_keys"), false);
  return v.to_json(style);
}

Value f_join(const Value& v, const Args& a) {
  std::string sep = arg(a, 0, "d") ? arg(a, 0, "d")->str() : "";
  auto attribute = opt_string(arg(a, 1, "attribute"));
  std::string out;
  bool first = true;
  for (const Value& item : v.iterate()) {
    charge(1);
    if (!first) out += sep;
    first = false;
    out += attribute ? get_path(item, *attribute).str() : item.str();
    check_string_size(out.size(), "a joined string");
  }
  return out;
}

Value f_first(const Value& v, const Args&) {
  List items = v.iterate();
  return items.empty() ? Value::undefined("first item") : items.front();
}

Value f_last(const Value& v, const Args&) {
  List items = v.iterate();
  return items.empty() ? Value::undefined("last item") : items.back();
}

Value f_default(const Value& v, const Args& a) {
  bool boolean = bool_arg(arg(a, 1, "boolean"), false);
  if (v.is_undefined() || (boolean && !v.truthy())) {
    const Value* d = arg(a, 0, "default_value");
    return d ? *d : Value("");
  }
  return v;
}

Value f_list(const Value& v, const Args&) { return Value(v.iterate()); }

Value f_items(const Value& v, const Args&) {
  if (v.is_undefined()) return Value(List{});
  if (!v.is_dict()) fail("items: expected a mapping, got ", v.type_name());
  List out;
  for (const auto& [k, val] : v.as_dict().entries) out.emplace_back(List{Value(k), val});
  return Value(std::move(out));
}

Value f_dictsort(const Value& v, const Args& a) {
  Value items = f_items(v, Args{});
  bool case_sensitive = bool_arg(arg(a, 0, "case_sensitive"), false);
  std::string by = arg(a, 1, "by") ? arg(a, 1, "by")->str() : "key";
  bool reverse = bool_arg(arg(a, 2, "reverse"), false);
  if (by != "key" && by != "value") fail("dictsort: 'by' must be 'key' or 'value', got '", by, "'");
  size_t idx = by == "key" ? 0 : 1;
  List out = items.as_list();
  std::stable_sort(out.begin(), out.end(), [&](const Value& x, const Value& y) {
    charge(1);
    int c = compare(sort_key(x.as_list()[idx], case_sensitive), sort_key(y.as_list()[idx], case_sensitive));
    return reverse ? c > 0 : c < 0;
  });
  return Value(std::move(out));
}

std::optional<int64_t> parse_python_int(std::string s, int base) {
  s = py_strip(s, std::nullopt, StripSide::Both);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, base);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return v;
}

Value f_int(const Value& v, const Args& a) {
  if (v.is_undefined()) fail("'", v.undefined_name(), "' is undefined");
  int64_t fallback = int_arg(arg(a, 0, "default"), 0, "int", "default");
  int base = static_cast<int>(int_arg(arg(a, 1, "base"), 10, "int", "base"));
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return Value(fallback);
    return Value(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (auto i = parse_python_int(v.as_string(), base)) return Value(*i);
    char* end = nullptr;  // Jinja falls back to int(float(s))
    std::string s = py_strip(v.as_string(), std::nullopt, StripSide::Both);
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(static_cast<int64_t>(d));
  }
  return Value(fallback);
}

Value f_float(const Value& v, const Args& a) {
  if (v.is_undefined()) fail("'", v.undefined_name(), "' is undefined");
  const Value* d = arg(a, 0, "default");
  Value fallback = d ? *d : Value(0.0);
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    std::string s = py_strip(v.as_string(), std::nullopt, StripSide::Both);
    char* end = nullptr;
    double x = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0') return Value(x);
  }
  return fallback;
}

Value f_replace(const Value& v, const Args& a) {
  const Value* old = arg(a, 0, "old");
  const Value* repl = arg(a, 1, "new");
  if (!old || !repl) fail("replace: expected (old, new[, count])");
  return py_replace(v.str(), old->str(), repl->str(), int_arg(arg(a, 2, "count"), -1, "replace", "count"));
}

Value f_abs(const Value& v, const Args&) {
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) fail("abs: integer overflow");  // its negation is no int64 (found by fuzzing)
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  fail("abs: bad operand type '", v.type_name(), "'");
}

Value f_round(const Value& v, const Args& a) {
  if (!v.is_number()) fail("round: expected a number, got ", v.type_name());
  if (!v.is_float() && (!arg(a, 1, "method") || arg(a, 1, "method")->str() == "common")) {
    return Value(v.as_int());  // Python's round() of an int is that int
  }
  int64_t precision = int_arg(arg(a, 0, "precision"), 0, "round", "precision");
  std::string method = arg(a, 1, "method") ? arg(a, 1, "method")->str() : "common";
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * scale;
  if (method == "common") x = std::nearbyint(x);  // Python's round(): half to even
  else if (method == "ceil") x = std::ceil(x);
  else if (method == "floor") x = std::floor(x);
  else fail("round: method must be 'common', 'ceil' or 'floor', got '", method, "'");
  return Value(x / scale);
}

bool run_test(const std::string& name, const Value& v, const std::vector<Value>& extra) {
  TestFn t = find_test(name);
  if (!t) fail("no test named '", name, "'");
  Args a;
  a.positional = extra;
  return t(v, a);
}

// select/reject/selectattr/rejectattr share this: keep items whose (attribute) passes the test.
Value filter_items(const Value& v, const Args& a, bool by_attr, bool keep) {
  size_t pos = 0;
  std::optional<std::string> attribute;
  if (by_attr) {
    if (a.positional.empty()) fail(keep ? "selectattr" : "rejectattr", ": expected an attribute name");
    attribute = a.positional[pos++].str();
  }
  std::optional<std::string> test;
  if (pos < a.positional.size()) test = a.positional[pos++].str();
  std::vector<Value> extra(a.positional.begin() + static_cast<std::ptrdiff_t>(std::min(pos, a.positional.size())),
                           a.positional.end());
  List out;
  for (const Value& item : v.iterate()) {
    charge(1);
    Value subject = attribute ? get_path(item, *attribute) : item;
    bool pass = test ? run_test(*test, subject, extra) : subject.truthy();
    if (pass == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

Value f_select(const Value& v, const Args& a) { return filter_items(v, a, false, true); }
Value f_reject(const Value& v, const Args& a) { return filter_items(v, a, false, false); }
Value f_selectattr(const Value& v, const Args& a) { return filter_items(v, a, true, true); }
Value f_rejectattr(const Value& v, const Args& a) { return filter_items(v, a, true, false); }

Value f_map(const Value& v, const Args& a) {
  List out;
  if (auto attribute = opt_string(arg(a, 99, "attribute"))) {
    const Value* fallback = arg(a, 99, "default");
    for (const Value& item : v.iterate()) {
      charge(1);
      Value got = get_path(item, *attribute);
      out.push_back(got.is_undefined() && fallback ? *fallback : got);
    }
    return Value(std::move(out));
  }
  if (a.positional.empty()) fail("map: expected a filter name or attribute=");
  std::string name = a.positional[0].str();
  FilterFn f = find_filter(name);
  if (!f) fail("map: no filter named '", name, "'");
  Args rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const Value& item : v.iterate()) {
    charge(1);
    out.push_back(f(item, rest));
  }
  return Value(std::move(out));
}

Value f_unique(const Value& v, const Args& a) {
  bool case_sensitive = bool_arg(arg(a, 0, "case_sensitive"), false);
  auto attribute = opt_string(arg(a, 1, "attribute"));
  List out, seen;
  for (const Value& item : v.iterate()) {
    Value key = sort_key(attribute ? get_path(item, *attribute) : item, case_sensitive);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value(std::move(out));
}

Value f_reverse(const Value& v, const Args&) {
  if (v.is_string()) {
    std::u32string cps = utf8_decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return utf8_encode(cps);
  }
  List items = v.iterate();
  std::reverse(items.begin(), items.end());
  return Value(std::move(items));
}

Value f_sort(const Value& v, const Args& a) {
  bool reverse = bool_arg(arg(a, 0, "reverse"), false);
  bool case_sensitive = bool_arg(arg(a, 1, "case_sensitive"), false);
  auto attribute = opt_string(arg(a, 2, "attribute"));
  List items = v.iterate();
  auto key = [&](const Value& x) { return sort_key(attribute ? get_path(x, *attribute) : x, case_sensitive); };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    charge(1);
    int c = compare(key(x), key(y));
    return reverse ? c > 0 : c < 0;
  });
  return Value(std::move(items));
}

Value add_numbers(const Value& x, const Value& y) {
  if (!x.is_number() || !y.is_number()) {
    fail("unsupported operand type(s) for +: '", x.type_name(), "' and '", y.type_name(), "'");
  }
  if (x.is_float() || y.is_float()) return Value(x.as_double() + y.as_double());
  int64_t r;
  if (__builtin_add_overflow(x.as_int(), y.as_int(), &r)) fail("integer overflow in sum");
  return Value(r);
}

Value f_sum(const Value& v, const Args& a) {
  auto attribute = opt_string(arg(a, 0, "attribute"));
  Value total = arg(a, 1, "start") ? *arg(a, 1, "start") : Value(0);
  for (const Value& item : v.iterate()) {
    charge(1);
    total = add_numbers(total, attribute ? get_path(item, *attribute) : item);
  }
  return total;
}

Value extreme(const Value& v, const Args& a, bool want_max) {
  bool case_sensitive = bool_arg(arg(a, 0, "case_sensitive"), false);
  auto attribute = opt_string(arg(a, 1, "attribute"));
  List items = v.iterate();
  if (items.empty()) return Value::undefined(want_max ? "max of empty sequence" : "min of empty sequence");
  auto key = [&](const Value& x) { return sort_key(attribute ? get_path(x, *attribute) : x, case_sensitive); };
  const Value* best = &items[0];
  for (const Value& item : items) {
    int c = compare(key(item), key(*best));
    if (want_max ? c > 0 : c < 0) best = &item;
  }
  return *best;
}

Value f_min(const Value& v, const Args& a) { return extreme(v, a, false); }
Value f_max(const Value& v, const Args& a) { return extreme(v, a, true); }

Value f_indent(const Value& v, const Args& a) {
  const Value* w = arg(a, 0, "width");
  const int64_t width = w && !w->is_string() ? int_arg(w, 4, "indent", "width") : 4;
  check_string_size(static_cast<size_t>(std::max<int64_t>(0, width)), "an indent");
  std::string pad = !w ? "    " : w->is_string() ? w->as_string() : std::string(static_cast<size_t>(std::max<int64_t>(0, width)), ' ');
  bool first = bool_arg(arg(a, 1, "first"), false);
  bool blank = bool_arg(arg(a, 2, "blank"), false);
  std::string s = v.str();
  std::string out;
  size_t start = 0;
  bool is_first = true;
  while (true) {
    size_t nl = s.find('\n', start);
    std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    bool indent_it = (is_first ? first : true) && (blank || !line.empty());
    if (!is_first) out += '\n';
    if (indent_it) out += pad;
    out += line;
    charge(1);
    check_string_size(out.size(), "an indented string");
    is_first = false;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

// Jinja counts matches of the regex \w+: runs of letters, digits and underscores.
Value f_wordcount(const Value& v, const Args&) {
  int64_t words = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(v.str())) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    bool word = c == U'_' || (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value(words);
}

// "%s - %s" | format(a, b): Python's % formatting with the filter's arguments.
Value f_format(const Value& v, const Args& a) {
  if (!a.keyword.empty()) {
    if (!a.positional.empty()) fail("format: can't handle positional and keyword arguments at the same time");
    Dict d;
    for (const auto& [k, val] : a.keyword) d.set(k, val);
    return percent_format(v.str(), Value(std::move(d)));
  }
  return percent_format(v.str(), Value(a.positional));
}

Value f_attr(const Value& v, const Args& a) {
  const Value* name = arg(a, 0, "name");
  if (!name) fail("attr: expected an attribute name");
  if (v.is_dict()) {
    const Value* got = v.as_dict().find(name->str());
    if (got) return *got;
  }
  return Value::undefined(name->str());
}

const std::map<std::string, FilterFn, std::less<>>& filters() {
  static const std::map<std::string, FilterFn, std::less<>> table = {
      {"abs", f_abs},         {"attr", f_attr},           {"capitalize", f_capitalize},
      {"count", f_length},    {"d", f_default},           {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},          {"escape", f_escape},
      {"first", f_first},     {"float", f_float},         {"format", f_format},       {"indent", f_indent},
      {"int", f_int},         {"items", f_items},         {"join", f_join},
      {"last", f_last},       {"length", f_length},       {"list", f_list},
      {"lower", f_lower},     {"map", f_map},             {"max", f_max},
      {"min", f_min},         {"reject", f_reject},       {"rejectattr", f_rejectattr},
      {"replace", f_replace}, {"reverse", f_reverse},     {"round", f_round},
      {"safe", f_safe},       {"select", f_select},       {"selectattr", f_selectattr},
      {"sort", f_sort},       {"string", f_string},       {"sum", f_sum},
      {"title", f_title},     {"tojson", f_tojson},       {"trim", f_trim},
      {"unique", f_unique},   {"upper", f_upper},         {"wordcount", f_wordcount},
  };
  return table;
}

// ---- tests ----

const Value& test_arg(const Args& a, const char* test) {
  if (a.positional.empty()) fail("test '", test, "' expects an argument");
  return a.positional[0];
}

bool t_defined(const Value& v, const Args&) { return !v.is_undefined(); }
bool t_undefined(const Value& v, const Args&) { return v.is_undefined(); }
bool t_none(const Value& v, const Args&) { return v.is_none(); }
bool t_boolean(const Value& v, const Args&) { return v.is_bool(); }
bool t_true(const Value& v, const Args&) { return v.is_bool() && v.as_bool(); }
bool t_false(const Value& v, const Args&) { return v.is_bool() && !v.as_bool(); }
bool t_integer(const Value& v, const Args&) { return v.is_int(); }
bool t_float(const Value& v, const Args&) { return v.is_float(); }
bool t_number(const Value& v, const Args&) { return v.is_number(); }
bool t_string(const Value& v, const Args&) { return v.is_string(); }
bool t_mapping(const Value& v, const Args&) { return v.is_dict() && !v.as_dict().is_namespace; }
bool t_iterable(const Value& v, const Args&) { return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict(); }
bool t_sequence(const Value& v, const Args&) { return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict(); }
// Jinja's Undefined defines __call__ (to raise), so Python's callable() says yes.
bool t_callable(const Value& v, const Args&) { return v.is_callable() || v.is_undefined(); }
bool t_escaped(const Value&, const Args&) { return false; }
// str(value).islower() / .isupper(): at least one cased character, and all of them in that case.
bool t_lower(const Value& v, const Args&) {
  std::string s = v.str();
  return py_lower(s) == s && py_upper(s) != s;
}
bool t_upper(const Value& v, const Args&) {
  std::string s = v.str();
  return py_upper(s) == s && py_lower(s) != s;
}

// Python's value % divisor, for the even/odd/divisibleby tests, which Jinja applies to floats as well.
double py_remainder(const Value& v, const Value& divisor, const char* test) {
  if (!v.is_number() || !divisor.is_number()) {
    fail("test '", test, "' expects numbers, got ", v.type_name(), " and ", divisor.type_name());
  }
  if (divisor.as_double() == 0.0) fail("test '", test, "': division by zero");
  if (!v.is_float() && !divisor.is_float()) {
    int64_t a = v.as_int(), b = divisor.as_int();
    return b == -1 ? 0.0 : static_cast<double>(a % b);
  }
  return std::fmod(v.as_double(), divisor.as_double());
}

bool t_even(const Value& v, const Args&) { return py_remainder(v, Value(2), "even") == 0.0; }
bool t_odd(const Value& v, const Args&) { return std::fabs(py_remainder(v, Value(2), "odd")) == 1.0; }
bool t_divisibleby(const Value& v, const Args& a) { return py_remainder(v, test_arg(a, "divisibleby"), "divisibleby") == 0.0; }
bool t_eq(const Value& v, const Args& a) { return equals(v, test_arg(a, "eq")); }
bool t_ne(const Value& v, const Args& a) { return !equals(v, test_arg(a, "ne")); }
bool t_lt(const Value& v, const Args& a) { return compare(v, test_arg(a, "lt")) < 0; }
bool t_le(const Value& v, const Args& a) { return compare(v, test_arg(a, "le")) <= 0; }
bool t_gt(const Value& v, const Args& a) { return compare(v, test_arg(a, "gt")) > 0; }
bool t_ge(const Value& v, const Args& a) { return compare(v, test_arg(a, "ge")) >= 0; }
bool t_sameas(const Value& v, const Args& a) {
  const Value& o = test_arg(a, "sameas");
  if (v.kind() != o.kind()) return false;
  if (v.is_list()) return &v.as_list() == &o.as_list();
  if (v.is_dict()) return &v.as_dict() == &o.as_dict();
  return equals(v, o);
}
bool t_in(const Value& v, const Args& a) {
  const Value& seq = test_arg(a, "in");
  if (seq.is_string()) return v.is_string() && find_substring(seq.as_string(), v.as_string()) != std::string::npos;
  if (seq.is_dict()) return v.is_string() && seq.as_dict().find(v.as_string()) != nullptr;
  for (const Value& item : seq.iterate()) {
    if (equals(item, v)) return true;
  }
  return false;
}

const std::map<std::string, TestFn, std::less<>>& tests() {
  static const std::map<std::string, TestFn, std::less<>> table = {
      {"!=", t_ne},          {"<", t_lt},           {"<=", t_le},         {"==", t_eq},
      {">", t_gt},           {">=", t_ge},          {"boolean", t_boolean}, {"callable", t_callable},
      {"defined", t_defined}, {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq},
      {"escaped", t_escaped}, {"even", t_even},     {"false", t_false},   {"float", t_float},
      {"ge", t_ge},          {"greaterthan", t_gt}, {"gt", t_gt},         {"in", t_in},
      {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le},     {"lessthan", t_lt},
      {"lower", t_lower},    {"lt", t_lt},          {"mapping", t_mapping}, {"ne", t_ne},
      {"none", t_none},      {"number", t_number},  {"odd", t_odd},       {"sameas", t_sameas},
      {"sequence", t_sequence}, {"string", t_string}, {"true", t_true},   {"undefined", t_undefined},
      {"upper", t_upper},
  };
  return table;
}

}  // namespace

FilterFn find_filter(std::string_view name) {
  auto it = filters().find(name);
  return it == filters().end() ? nullptr : it->second;
}

TestFn find_test(std::string_view name) {
  auto it = tests().find(name);
  return it == tests().end() ? nullptr : it->second;
}

}  // namespace synaptix::model::jinja
