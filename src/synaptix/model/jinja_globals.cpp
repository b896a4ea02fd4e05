#include "synaptix/model/jinja_globals.h"

#include <ctime>

#include "synaptix/model/jinja_sandbox.h"

namespace synaptix::model::jinja {
namespace {

// Jinja's sandbox refuses ranges longer than this, so a template cannot allocate without bound.
constexpr int64_t kMaxRange = 100000;

int64_t int_param(const Value& v, const char* what) {
  if (!v.is_int() && !v.is_bool()) fail("range(): '", what, "' must be an integer, got ", v.type_name());
  return v.as_int();
}

Value range(const Args& a) {
  if (!a.keyword.empty()) fail("range() takes no keyword arguments");
  size_t n = a.positional.size();
  if (n < 1 || n > 3) fail("range() expects 1 to 3 arguments, got ", n);
  int64_t start = 0, stop = 0, step = 1;
  if (n == 1) {
    stop = int_param(a.positional[0], "stop");
  } else {
    start = int_param(a.positional[0], "start");
    stop = int_param(a.positional[1], "stop");
    if (n == 3) step = int_param(a.positional[2], "step");
  }
  if (step == 0) fail("range() arg 3 must not be zero");
  // Count in double-free integer math without overflow: both bounds are int64, the span fits in __int128.
  __int128 span = static_cast<__int128>(stop) - start;
  __int128 count = step > 0 ? (span > 0 ? (span + step - 1) / step : 0) : (span < 0 ? (-span + (-step) - 1) / (-step) : 0);
  if (count > kMaxRange) fail("range() is too big: ", static_cast<int64_t>(count), " items, the limit is ", kMaxRange);
  charge(static_cast<int64_t>(count));
  List out;
  out.reserve(static_cast<size_t>(count));
  for (__int128 i = 0; i < count; ++i) out.emplace_back(static_cast<int64_t>(start + i * step));
  return Value(std::move(out));
}

Dict dict_from_args(const Args& a, const char* fn) {
  Dict d;
  for (const Value& p : a.positional) {
    if (!p.is_dict()) fail(fn, "(): positional arguments must be mappings, got ", p.type_name());
    for (const auto& [k, v] : p.as_dict().entries) d.set(k, v);
  }
  for (const auto& [k, v] : a.keyword) d.set(k, v);
  return d;
}

// The only mutable objects (set ns.attr = ...), so the only ones that can come to hold themselves: the render
// empties them when it ends, which frees such cycles.
Value make_namespace(const Args& a) {
  auto d = std::make_shared<Dict>(dict_from_args(a, "namespace"));
  d->is_namespace = true;
  adopt_namespace(d);
  return Value(std::move(d));
}

Value make_dict(const Args& a) { return Value(dict_from_args(a, "dict")); }

Value raise_exception(const Args& a) {
  if (a.positional.size() != 1) fail("raise_exception() expects one argument, the message");
  throw TemplateRaised(a.positional[0].str());
}

Value strftime_now(const Args& a) {
  if (a.positional.size() != 1 || !a.positional[0].is_string()) fail("strftime_now() expects one string, the format");
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  const std::string& fmt = a.positional[0].as_string();
  if (fmt.empty()) return Value("");
  std::string buf(fmt.size() * 4 + 64, '\0');
  size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &local);
  if (n == 0) fail("strftime_now(): format '", fmt, "' produced no output or is too long");
  buf.resize(n);
  return Value(std::move(buf));
}

}  // namespace

Dict builtin_globals() {
  Dict g;
  g.set("range", Value(Callable{"range", range}));
  g.set("namespace", Value(Callable{"namespace", make_namespace}));
  g.set("dict", Value(Callable{"dict", make_dict}));
  g.set("raise_exception", Value(Callable{"raise_exception", raise_exception}));
  g.set("strftime_now", Value(Callable{"strftime_now", strftime_now}));
  return g;
}

}  // namespace synaptix::model::jinja
