#pragma once
// Values of the chat-template interpreter: the Python objects a Jinja2 template sees (None, bool, int, float,
// str, list, dict, callables) plus Jinja's Undefined. Lists and dicts are shared by reference, as in Python;
// dicts keep insertion order, as Python dicts do, so tojson prints keys in the order the template built them.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace synaptix::model::jinja {

class Value;
using List = std::vector<Value>;

// Insertion-ordered string-keyed map. Linear lookup: template dicts (messages, tool schemas) are small.
struct Dict {
  std::vector<std::pair<std::string, Value>> entries;
  bool is_namespace = false;  // made by namespace(): the only objects `set ns.attr = ...` may change

  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

// Arguments of a call, filter or test: positional first, then keyword.
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument at `index` among positionals, or the keyword `name`; nullptr when neither was given.
  const Value* get(size_t index, std::string_view name) const;
};

struct Callable {
  std::string name;
  std::function<Value(const Args&)> fn;
};

struct Undefined {
  std::string name;  // what the template asked for, for error messages
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

  Value() : v_(Undefined{}) {}
  static Value undefined(std::string name) { return Value(Undefined{std::move(name)}); }
  static Value none() { return Value(nullptr); }
  Value(bool b) : v_(b) {}
  Value(int64_t i) : v_(i) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(List l) : v_(std::make_shared<List>(std::move(l))) {}
  Value(Dict d) : v_(std::make_shared<Dict>(std::move(d))) {}
  Value(std::shared_ptr<List> l) : v_(std::move(l)) {}
  Value(std::shared_ptr<Dict> d) : v_(std::move(d)) {}
  Value(Callable c) : v_(std::make_shared<Callable>(std::move(c))) {}

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // Python: bool is an int
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_callable() const { return kind() == Kind::Callable; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const;  // int or bool
  double as_double() const;  // int, bool or float
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const List& as_list() const { return *std::get<std::shared_ptr<List>>(v_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<Dict>>(v_); }
  Dict& mutable_dict() const { return *std::get<std::shared_ptr<Dict>>(v_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<Callable>>(v_); }
  const std::string& undefined_name() const { return std::get<Undefined>(v_).name; }

  bool truthy() const;  // Python truth: empty containers, 0, "", None and Undefined are false
  std::string str() const;   // Python str(); Undefined renders as ""
  std::string repr() const;  // Python repr(), as str() shows the items of a list or dict
  std::string type_name() const;  // Python's name of the type, for error messages

  // Items when iterating: a list's items, a dict's keys, a string's characters; Undefined iterates as empty.
  // Throws for values that are not iterable.
  List iterate() const;

  // JSON objects become dicts in the JSON value's key order: sorted for nlohmann::json, the document's order
  // for nlohmann::ordered_json.
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);
  // Python's json.dumps(value, ...) with the options transformers' tojson filter passes through; its defaults
  // are ensure_ascii=False and, as in Python, separators ", " and ": " (or "," and ": " with an indent).
  // Throws for Undefined and callables.
  struct JsonStyle {
    int indent = -1;  // < 0: None, all on one line
    bool sort_keys = false;
    bool ensure_ascii = false;
    std::string item_separator;  // empty: Python's default for the indent
    std::string key_separator = ": ";
  };
  std::string to_json(const JsonStyle& style) const;
  std::string to_json() const { return to_json(JsonStyle{}); }

 private:
  explicit Value(Undefined u) : v_(std::move(u)) {}
  explicit Value(std::nullptr_t) : v_(nullptr) {}
  std::variant<Undefined, std::nullptr_t, bool, int64_t, double, std::string, std::shared_ptr<List>,
               std::shared_ptr<Dict>, std::shared_ptr<Callable>>
      v_;
};

// Python ==: 1 == 1.0 == True, deep on lists and dicts, false across unrelated types.
bool equals(const Value& a, const Value& b);
// Python <; throws for unorderable types. Returns negative, zero or positive.
int compare(const Value& a, const Value& b);

// Python's repr() of a float: the shortest string that round-trips, with ".0" on integral values and
// exponent notation outside [1e-4, 1e16).
std::string python_float_repr(double d);

// UTF-8 text as code points and back: Python strings are indexed, sliced and measured in code points.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);

}  // namespace synaptix::model::jinja
