#include "synaptix/model/jinja_eval.h"

#include <cmath>
#include <unordered_map>

#include "synaptix/core/error.h"
#include "synaptix/model/jinja_filters.h"
#include "synaptix/model/jinja_globals.h"
#include "synaptix/model/jinja_methods.h"
#include "synaptix/model/jinja_sandbox.h"
#include "synaptix/model/jinja_strings.h"

namespace synaptix::model::jinja {
namespace {

enum class Flow { Normal, Break, Continue };

[[noreturn]] void undefined_error(const Value& v) { fail("'", v.undefined_name(), "' is undefined"); }

[[noreturn]] void operand_error(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  fail("unsupported operand type(s) for ", op, ": '", a.type_name(), "' and '", b.type_name(), "'");
}

// Python ints do not overflow; ours are 64-bit, so overflow is reported rather than wrapped.
template <typename Op>
int64_t checked(Op op, int64_t x, int64_t y) {
  int64_t r = 0;
  if (op(x, y, &r)) fail("integer overflow");
  return r;
}
constexpr auto kAdd = [](int64_t x, int64_t y, int64_t* r) { return __builtin_add_overflow(x, y, r); };
constexpr auto kSub = [](int64_t x, int64_t y, int64_t* r) { return __builtin_sub_overflow(x, y, r); };
constexpr auto kMul = [](int64_t x, int64_t y, int64_t* r) { return __builtin_mul_overflow(x, y, r); };

// Python's floor division and modulo: the result takes the sign of the divisor.
int64_t floor_div(int64_t a, int64_t b) {
  if (b == -1 && a == INT64_MIN) fail("integer overflow");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t py_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// The result's size is checked before it is built: 'x' * 10**12 must not try to allocate a terabyte.
Value repeat(const Value& seq, int64_t n) {
  if (n <= 0) return seq.is_string() ? Value("") : Value(List{});
  const Limits& limits = current_limits();
  const size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size();
  const size_t max = seq.is_string() ? limits.max_string_bytes : limits.max_list_items;
  if (unit != 0 && static_cast<uint64_t>(n) > max / unit) {
    limit_exceeded(seq.is_string() ? "bytes in a repeated string (repetition result is too large)"
                                   : "items in a repeated list (repetition result is too large)",
                   static_cast<double>(max), seq.is_string() ? "max_string_bytes" : "max_list_items");
  }
  charge(1 + static_cast<int64_t>(unit) * n / 4096);  // a step per 4 KiB (or 4096 items) copied
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return out;
  }
  List out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return Value(std::move(out));
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    if (a.is_undefined() && b.is_undefined()) return Value("");
    return Value(a.str() + b.str());
  }
  if (a.is_number() && b.is_number()) {
    bool as_float = a.is_float() || b.is_float();
    if (op == "/") {
      if (b.as_double() == 0.0) fail("division by zero");
      return Value(a.as_double() / b.as_double());
    }
    if (as_float) {
      double x = a.as_double(), y = b.as_double();
      if (op == "+") return Value(x + y);
      if (op == "-") return Value(x - y);
      if (op == "*") return Value(x * y);
      if (op == "**") {
        if (x == 0.0 && y < 0.0) fail("0.0 cannot be raised to a negative power");
        return Value(std::pow(x, y));
      }
      if (y == 0.0) fail(op == "//" ? "float floor division by zero" : "float modulo");
      if (op == "//") return Value(std::floor(x / y));
      if (op == "%") {
        double r = std::fmod(x, y);
        if (r != 0.0 && ((r < 0) != (y < 0))) r += y;
        return Value(r);
      }
    } else {
      int64_t x = a.as_int(), y = b.as_int();
      if (op == "+") return Value(checked(kAdd, x, y));
      if (op == "-") return Value(checked(kSub, x, y));
      if (op == "*") return Value(checked(kMul, x, y));
      if (op == "**") {
        if (y < 0) {
          if (x == 0) fail("0.0 cannot be raised to a negative power");
          return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
        int64_t result = 1;
        for (int64_t i = 0; i < y; ++i) {
          result = checked(kMul, result, x);
          if (result == 0 || result == 1) break;
        }
        return Value(result);
      }
      if (y == 0) fail(op == "//" ? "integer division by zero" : "integer modulo by zero");
      if (op == "//") return Value(floor_div(x, y));
      if (op == "%") return Value(py_mod(x, y));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list()) {
      List out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return Value(std::move(out));
    }
  }
  if (op == "%" && a.is_string()) return Value(percent_format(a.as_string(), b));
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int());
  }
  operand_error(op, a, b);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::String:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not ", item.type_name());
      return find_substring(container.as_string(), item.as_string()) != std::string::npos;
    case Value::Kind::Dict: return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    case Value::Kind::List:
      for (const Value& v : container.as_list()) {
        if (equals(v, item)) return true;
      }
      return false;
    case Value::Kind::Undefined: return false;  // Jinja's Undefined iterates as empty
    default: fail("argument of type '", container.type_name(), "' is not iterable");
  }
}

// Python index normalisation for item access: negative counts from the end.
bool normalize_index(int64_t& i, size_t size) {
  if (i < 0) i += static_cast<int64_t>(size);
  return i >= 0 && static_cast<size_t>(i) < size;
}

// Python slice semantics (any step, clamped bounds) over a sequence of `size` items.
std::vector<size_t> slice_indices(size_t size, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto as_opt = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) fail("slice ", what, " must be an integer or none, got ", v.type_name());
    return v.as_int();
  };
  int64_t n = static_cast<int64_t>(size);
  int64_t step = as_opt(step_v, "step").value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + n : *v;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  int64_t start = clamp(as_opt(start_v, "start"), step > 0 ? 0 : n - 1);
  int64_t stop = clamp(as_opt(stop_v, "stop"), step > 0 ? n : -1);
  std::vector<size_t> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(static_cast<size_t>(i));
  return out;
}

class Renderer {
 public:
  Renderer(const Dict& variables, Budget& budget) : globals_(builtin_globals()), budget_(budget) {
    frames_.emplace_back();
    for (const auto& [k, v] : variables.entries) frames_.back().vars[k] = v;
  }

  std::string run(const Body& body) {
    std::string out;
    try {
      exec(body, out);
    } catch (const TemplateRaised&) {
      throw;
    } catch (const Error& e) {
      fail("chat template render error at ", at_.line, ":", at_.col, ": ", e.what());
    }
    return out;
  }

 private:
  struct Frame {
    std::unordered_map<std::string, Value> vars;
    bool macro_boundary = false;  // a macro body sees its own frame and the template's top level only
  };

  Value lookup(const std::string& name) const {
    for (size_t i = frames_.size(); i-- > 0;) {
      auto it = frames_[i].vars.find(name);
      if (it != frames_[i].vars.end()) return it->second;
      if (frames_[i].macro_boundary) {
        auto top = frames_[0].vars.find(name);
        if (top != frames_[0].vars.end()) return top->second;
        break;
      }
    }
    if (const Value* g = globals_.find(name)) return *g;
    return Value::undefined(name);
  }

  void assign(const std::vector<std::string>& targets, const Value& v) {
    if (targets.size() == 1) {
      frames_.back().vars[targets[0]] = v;
      return;
    }
    List items = v.iterate();
    if (items.size() != targets.size()) {
      fail(items.size() > targets.size() ? "too many" : "not enough", " values to unpack (expected ", targets.size(),
           ", got ", items.size(), ")");
    }
    for (size_t i = 0; i < targets.size(); ++i) frames_.back().vars[targets[i]] = items[i];
  }

  struct FrameGuard {
    Renderer& r;
    FrameGuard(Renderer& renderer, bool boundary = false) : r(renderer) {
      r.frames_.emplace_back();
      r.frames_.back().macro_boundary = boundary;
    }
    ~FrameGuard() { r.frames_.pop_back(); }
  };

  Flow exec(const Body& body, std::string& out) {
    for (const StmtPtr& s : body) {
      Flow f = exec(*s, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  // Interpreter recursion (statements, expressions, macro bodies) is counted, so no template can run the
  // stack out; every statement and expression is a step.
  struct Nest {
    Renderer& r;
    explicit Nest(Renderer& renderer) : r(renderer) {
      r.budget_.charge(1);
      if (++r.nesting_ > r.budget_.limits().max_eval_depth) {
        --r.nesting_;
        limit_exceeded("levels of nested evaluation", r.budget_.limits().max_eval_depth, "max_eval_depth");
      }
    }
    ~Nest() { --r.nesting_; }
  };

  void append(std::string& out, const std::string& text) {
    check_string_size(out.size() + text.size(), "the output");
    out += text;
  }

  Flow exec(const Stmt& s, std::string& out) {
    Nest nest(*this);
    at_ = s.pos;
    switch (s.kind) {
      case Stmt::Kind::Data: append(out, s.text); return Flow::Normal;
      case Stmt::Kind::Output: append(out, eval(*s.expr).str()); return Flow::Normal;
      case Stmt::Kind::If:
        for (const auto& [cond, body] : s.branches) {
          if (eval(*cond).truthy()) return exec(body, out);
        }
        return exec(s.else_body, out);
      case Stmt::Kind::For: return exec_for(s, out);
      case Stmt::Kind::Set: exec_set(s); return Flow::Normal;
      case Stmt::Kind::SetBlock: {
        std::string text;
        exec(s.body, text);
        assign(s.targets, s.expr ? apply_to_block(*s.expr, std::move(text)) : Value(std::move(text)));
        return Flow::Normal;
      }
      case Stmt::Kind::Macro: define_macro(s); return Flow::Normal;
      case Stmt::Kind::Break: return Flow::Break;
      case Stmt::Kind::Continue: return Flow::Continue;
      case Stmt::Kind::FilterBlock: {
        std::string text;
        exec(s.body, text);
        append(out, apply_to_block(*s.expr, std::move(text)).str());
        return Flow::Normal;
      }
      case Stmt::Kind::Group: return exec(s.body, out);
      case Stmt::Kind::With: {
        std::vector<Value> values;  // evaluated in the enclosing scope, as Jinja does
        for (const auto& [expr, unused] : s.branches) values.push_back(eval(*expr));
        FrameGuard frame(*this);
        for (size_t i = 0; i < values.size(); ++i) frames_.back().vars[s.targets[i]] = std::move(values[i]);
        return exec(s.body, out);
      }
    }
    return Flow::Normal;
  }

  Value apply_to_block(const Expr& filter_chain, std::string text) {
    FrameGuard frame(*this);
    frames_.back().vars["(block text)"] = Value(std::move(text));
    return eval(filter_chain);
  }

  void exec_set(const Stmt& s) {
    Value v = eval(*s.expr);
    if (s.attr.empty()) {
      assign(s.targets, v);
      return;
    }
    at_ = s.pos;
    Value target = lookup(s.targets[0]);
    if (!target.is_dict() || !target.as_dict().is_namespace) {
      fail("cannot assign attribute '", s.attr, "' on '", s.targets[0], "': it is a ", target.type_name(),
           ", not a namespace()");
    }
    target.mutable_dict().set(s.attr, std::move(v));
  }

  Flow exec_for(const Stmt& s, std::string& out) {
    Value iterable = eval(*s.expr);
    at_ = s.pos;
    List items = iterable.iterate();
    check_list_size(items.size(), "a loop's items");
    if (s.filter) {  // the inline `if` filters before the loop counts, so loop.length excludes skipped items
      List kept;
      FrameGuard frame(*this);
      for (Value& item : items) {
        budget_.loop_iteration();
        frames_.back().vars.clear();
        assign(s.targets, item);
        if (eval(*s.filter).truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec(s.else_body, out);
    const auto n = static_cast<int64_t>(items.size());
    // One frame for the loop, emptied per iteration (each iteration's `set`s are its own); the `loop` object is
    // built only where the body names it.
    FrameGuard frame(*this);
    for (int64_t i = 0; i < n; ++i) {
      budget_.loop_iteration();
      frames_.back().vars.clear();
      assign(s.targets, items[static_cast<size_t>(i)]);
      if (!s.uses_loop) {
        if (exec(s.body, out) == Flow::Break) break;
        continue;
      }
      Dict loop;
      loop.set("index", Value(i + 1));
      loop.set("index0", Value(i));
      loop.set("revindex", Value(n - i));
      loop.set("revindex0", Value(n - i - 1));
      loop.set("first", Value(i == 0));
      loop.set("last", Value(i == n - 1));
      loop.set("length", Value(n));
      loop.set("depth", Value(1));
      loop.set("depth0", Value(0));
      loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("loop.previtem"));
      loop.set("nextitem", i < n - 1 ? items[static_cast<size_t>(i + 1)] : Value::undefined("loop.nextitem"));
      loop.set("cycle", Value(Callable{"loop.cycle", [i](const Args& a) -> Value {
                                         if (a.positional.empty()) fail("loop.cycle() needs at least one value");
                                         return a.positional[static_cast<size_t>(i) % a.positional.size()];
                                       }}));
      frames_.back().vars["loop"] = Value(std::move(loop));
      if (exec(s.body, out) == Flow::Break) break;
    }
    return Flow::Normal;
  }

  void define_macro(const Stmt& s) {
    const Stmt* macro = &s;
    frames_.back().vars[s.name] = Value(Callable{s.name, [this, macro](const Args& a) { return call_macro(*macro, a); }});
  }

  Value call_macro(const Stmt& m, const Args& a) {
    if (depth_ >= budget_.limits().max_call_depth) {
      fail("macro '", m.name, "' recursed deeper than ", budget_.limits().max_call_depth,
           " calls: chat template exceeds its limit of ", budget_.limits().max_call_depth,
           " nested macro calls (max_call_depth)");
    }
    if (a.positional.size() > m.params.size()) {
      fail("macro '", m.name, "' takes ", m.params.size(), " arguments, got ", a.positional.size());
    }
    FrameGuard frame(*this, /*boundary=*/true);
    ++depth_;
    struct DepthGuard {
      int& d;
      ~DepthGuard() { --d; }
    } depth_guard{depth_};
    for (const auto& [k, v] : a.keyword) {
      bool known = false;
      for (const MacroParam& p : m.params) known |= p.name == k;
      if (!known) fail("macro '", m.name, "' has no parameter '", k, "'");
    }
    for (size_t i = 0; i < m.params.size(); ++i) {
      const MacroParam& p = m.params[i];
      const Value* given = a.get(i, p.name);
      Value v = given ? *given : p.default_value ? eval(*p.default_value) : Value::undefined(p.name);
      frames_.back().vars[p.name] = std::move(v);
    }
    std::string out;
    SourcePos caller_at = at_;
    exec(m.body, out);
    at_ = caller_at;
    return Value(std::move(out));
  }

  Args eval_args(const Expr& e, size_t first) {
    Args a;
    for (size_t i = first; i < e.items.size(); ++i) a.positional.push_back(eval(*e.items[i]));
    for (const auto& [k, v] : e.kwargs) a.keyword.emplace_back(k, eval(*v));
    return a;
  }

  Value get_attr(const Value& obj, const std::string& name) {
    if (obj.is_undefined()) undefined_error(obj);
    Value method = bound_method(obj, name);
    if (!method.is_undefined()) return method;
    if (obj.is_dict()) {
      if (const Value* v = obj.as_dict().find(name)) return *v;
    }
    return Value::undefined(name);
  }

  Value get_item(const Value& obj, const Value& key) {
    if (obj.is_undefined()) undefined_error(obj);
    if (obj.is_dict() && key.is_string()) {
      if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
      return bound_method(obj, key.as_string());
    }
    if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
      int64_t i = key.as_int();
      if (obj.is_list()) {
        if (!normalize_index(i, obj.as_list().size())) return Value::undefined("index " + std::to_string(key.as_int()));
        return obj.as_list()[static_cast<size_t>(i)];
      }
      std::u32string cps = utf8_decode(obj.as_string());
      if (!normalize_index(i, cps.size())) return Value::undefined("index " + std::to_string(key.as_int()));
      return Value(utf8_encode(std::u32string(1, cps[static_cast<size_t>(i)])));
    }
    if (key.is_string()) return bound_method(obj, key.as_string());
    return Value::undefined(key.str());
  }

  Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
    if (obj.is_undefined()) undefined_error(obj);
    if (obj.is_string()) {
      std::u32string cps = utf8_decode(obj.as_string());
      std::u32string out;
      for (size_t i : slice_indices(cps.size(), start, stop, step)) out += cps[i];
      return Value(utf8_encode(out));
    }
    if (obj.is_list()) {
      List out;
      for (size_t i : slice_indices(obj.as_list().size(), start, stop, step)) out.push_back(obj.as_list()[i]);
      return Value(std::move(out));
    }
    fail("'", obj.type_name(), "' object is not subscriptable");
  }

  // Every value an expression makes is checked against the size limits (operations that could grow a value by
  // more than a bounded factor in one go check before they allocate).
  Value eval(const Expr& e) {
    Nest nest(*this);
    Value v = eval_node(e);
    switch (v.kind()) {
      case Value::Kind::String: check_string_size(v.as_string().size(), "a string"); break;
      case Value::Kind::List: check_list_size(v.as_list().size(), "a list"); break;
      case Value::Kind::Dict: check_list_size(v.as_dict().entries.size(), "a dict"); break;
      default: break;
    }
    return v;
  }

  Value eval_node(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.value;
      case Expr::Kind::Name: return lookup(e.name);
      case Expr::Kind::List: {
        List out;
        for (const ExprPtr& item : e.items) out.push_back(eval(*item));
        return Value(std::move(out));
      }
      case Expr::Kind::Dict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
          Value k = eval(*e.items[i]);
          if (!k.is_string()) {
            at_ = e.items[i]->pos;
            fail("dict keys must be strings, got ", k.type_name());
          }
          d.set(k.as_string(), eval(*e.items[i + 1]));
        }
        return Value(std::move(d));
      }
      case Expr::Kind::GetAttr: {
        Value obj = eval(*e.items[0]);
        at_ = e.pos;
        return get_attr(obj, e.name);
      }
      case Expr::Kind::GetItem: {
        Value obj = eval(*e.items[0]);
        Value key = eval(*e.items[1]);
        at_ = e.pos;
        return get_item(obj, key);
      }
      case Expr::Kind::Slice: {
        Value obj = eval(*e.items[0]);
        Value parts[3];
        for (int i = 0; i < 3; ++i) parts[i] = e.items[1 + i] ? eval(*e.items[1 + i]) : Value::none();
        at_ = e.pos;
        return slice(obj, parts[0], parts[1], parts[2]);
      }
      case Expr::Kind::Call: {
        Value callee = eval(*e.items[0]);
        Args a = eval_args(e, 1);
        at_ = e.pos;
        if (callee.is_undefined()) undefined_error(callee);
        if (!callee.is_callable()) fail("'", callee.type_name(), "' object is not callable");
        return callee.as_callable().fn(a);
      }
      case Expr::Kind::Filter: {
        Value operand = eval(*e.items[0]);
        Args a = eval_args(e, 1);
        at_ = e.pos;
        try {
          return find_filter(e.name)(operand, a);
        } catch (const TemplateRaised&) {
          throw;
        } catch (const Error& err) {
          fail("filter '", e.name, "': ", err.what());
        }
      }
      case Expr::Kind::Test: {
        Value operand = eval(*e.items[0]);
        Args a = eval_args(e, 1);
        at_ = e.pos;
        bool result = find_test(e.name)(operand, a);
        return Value(result != e.negated);
      }
      case Expr::Kind::Unary: {
        Value v = eval(*e.items[0]);
        at_ = e.pos;
        if (e.name == "not") return Value(!v.truthy());
        if (v.is_undefined()) undefined_error(v);
        if (!v.is_number()) fail("bad operand type for unary ", e.name, ": '", v.type_name(), "'");
        if (e.name == "+") return v.is_float() ? v : Value(v.as_int());
        if (v.is_float()) return Value(-v.as_double());
        if (v.as_int() == INT64_MIN) fail("integer overflow");
        return Value(-v.as_int());
      }
      case Expr::Kind::Binary: {
        Value a = eval(*e.items[0]);
        if (e.name == "and") return a.truthy() ? eval(*e.items[1]) : a;
        if (e.name == "or") return a.truthy() ? a : eval(*e.items[1]);
        Value b = eval(*e.items[1]);
        at_ = e.pos;
        return arithmetic(e.name, a, b);
      }
      case Expr::Kind::Compare: {
        Value left = eval(*e.items[0]);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.items[i + 1]);
          at_ = e.items[i + 1]->pos;
          const std::string& op = e.ops[i];
          bool ok;
          if (op == "==") ok = equals(left, right);
          else if (op == "!=") ok = !equals(left, right);
          else if (op == "in") ok = contains(right, left);
          else if (op == "not in") ok = !contains(right, left);
          else {
            if (left.is_undefined()) undefined_error(left);
            if (right.is_undefined()) undefined_error(right);
            int c = compare(left, right);
            ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
          }
          if (!ok) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case Expr::Kind::Cond: {
        if (eval(*e.items[1]).truthy()) return eval(*e.items[0]);
        return e.items[2] ? eval(*e.items[2]) : Value::undefined("else branch");
      }
    }
    return Value();
  }

  Dict globals_;
  Budget& budget_;
  std::vector<Frame> frames_;
  SourcePos at_;
  int depth_ = 0;    // macro calls in progress
  int nesting_ = 0;  // exec/eval recursion
};

}  // namespace

std::string render(const Body& tmpl, const Dict& variables, const Limits& limits) {
  Budget budget(limits);
  Budget::Scope scope(budget);
  return Renderer(variables, budget).run(tmpl);
}

}  // namespace synaptix::model::jinja
