#pragma once
// The syntax tree of a parsed Jinja2 template: expressions and statements, each with its source position so
// runtime errors can name the line and column.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "synaptix/model/jinja_lexer.h"
#include "synaptix/model/jinja_value.h"

namespace synaptix::model::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;
struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Expr {
  enum class Kind {
    Literal,  // value
    Name,     // name
    List,     // items
    Dict,     // items: key, value, key, value, ...
    GetAttr,  // items[0].name
    GetItem,  // items[0][items[1]]
    Slice,    // items[0][items[1]:items[2]:items[3]], absent parts null
    Call,     // items[0](items[1..], kwargs)
    Filter,   // items[0] | name(items[1..], kwargs)
    Test,     // items[0] is [not] name(items[1..], kwargs)
    Unary,    // op items[0]: "not", "-", "+"
    Binary,   // items[0] op items[1]: arithmetic, "~", "and", "or"
    Compare,  // items[0] ops[0] items[1] ops[1] items[2] ...: == != < <= > >= in, not in
    Cond,     // items[0] if items[1] else items[2] (items[2] null: Undefined)
  };
  Kind kind;
  SourcePos pos;
  Value value;
  std::string name;  // Name, GetAttr attribute, Filter/Test name, operator of Unary/Binary
  bool negated = false;  // Test: `is not`
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;  // Compare
  int depth = 1;                 // of the tree below, bounded by the parser

  Expr(Kind k, SourcePos p) : kind(k), pos(p) {}
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Stmt {
  enum class Kind {
    Data,      // text
    Output,    // {{ expr }}
    If,        // branches: (cond, body)...; else_body
    For,       // targets in expr [if filter]: body; else_body
    Set,       // targets = expr, or target.attr = expr (attr non-empty)
    SetBlock,  // {% set target %}body{% endset %}, optionally through filter
    Macro,     // name(params): body
    Break,
    Continue,
    FilterBlock,  // {% filter f %}body{% endfilter %}
    Group,        // a body rendered in place: {% generation %}
    With,         // {% with a = x, b = y %}body{% endwith %}: targets[i] = branches[i].first, in a new scope
  };
  Kind kind;
  SourcePos pos;
  std::string text;                                // Data
  ExprPtr expr;                                    // Output, For iterable, Set value, SetBlock/FilterBlock filter
  ExprPtr filter;                                  // For: inline `if`
  std::vector<std::string> targets;                // For / Set names
  std::string attr;                                // Set: `set ns.attr = ...`
  std::vector<std::pair<ExprPtr, Body>> branches;  // If
  Body body;                                       // For, SetBlock, Macro, FilterBlock, Group
  Body else_body;                                  // If, For
  std::string name;                                // Macro
  std::vector<MacroParam> params;                  // Macro
  bool uses_loop = true;                           // For: the body names `loop` (else it is not built)

  Stmt(Kind k, SourcePos p) : kind(k), pos(p) {}
};

}  // namespace synaptix::model::jinja
