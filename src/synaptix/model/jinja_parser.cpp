#include "synaptix/model/jinja_parser.h"

#include <algorithm>

#include "synaptix/model/jinja_filters.h"

namespace synaptix::model::jinja {
namespace {

// Stand-in operand of `{% filter %}` blocks and `{% set x | f %}`: not an identifier, so no template can
// name it; the interpreter binds it to the block's rendered text.
constexpr const char* kBlockText = "(block text)";

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::Data: return "template text";
    case TokenType::VarBegin: return "'{{'";
    case TokenType::VarEnd: return "'}}'";
    case TokenType::BlockBegin: return "'{%'";
    case TokenType::BlockEnd: return "'%}'";
    case TokenType::Name: return "'" + t.text + "'";
    case TokenType::String: return "string literal";
    case TokenType::Int:
    case TokenType::Float: return "number " + t.text;
    case TokenType::Op: return "'" + t.text + "'";
    case TokenType::Eof: return "end of template";
  }
  return "token";
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, int max_nesting) : toks_(std::move(tokens)), max_nesting_(max_nesting) {}

  Body parse() {
    Body body = subparse({});
    if (cur().type != TokenType::Eof) {
      syntax_error(cur().pos, "unexpected ", describe(cur()), ": no block is open to close");
    }
    return body;
  }

 private:
  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t n = 1) const { return toks_[std::min(i_ + n, toks_.size() - 1)]; }
  const Token& next() { return toks_[i_ < toks_.size() - 1 ? i_++ : i_]; }
  bool is_op(const char* op, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.type == TokenType::Op && t.text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.type == TokenType::Name && t.text == name;
  }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  void expect_op(const char* op, const char* context) {
    if (!skip_op(op)) syntax_error(cur().pos, "expected '", op, "' ", context, ", got ", describe(cur()));
  }
  std::string expect_name(const char* context) {
    if (cur().type != TokenType::Name) syntax_error(cur().pos, "expected a name ", context, ", got ", describe(cur()));
    return next().text;
  }
  void expect_block_end(const std::string& tag) {
    if (cur().type != TokenType::BlockEnd) {
      syntax_error(cur().pos, "expected '%}' to end '", tag, "', got ", describe(cur()));
    }
    next();
  }

  // Statements up to a `{% tag %}` whose name is in `end_tags`; stops with that name as the current token.
  Body subparse(const std::vector<std::string>& end_tags, const char* opener = nullptr, SourcePos opened = {}) {
    Nest nest(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == TokenType::Eof) {
        if (!end_tags.empty()) {
          std::string want;
          for (size_t k = 0; k < end_tags.size(); ++k) want += (k ? " or '" : "'") + end_tags[k] + "'";
          syntax_error(t.pos, "unexpected end of template: expected ", want, " to close '", opener, "' opened at ",
                       opened.line, ":", opened.col);
        }
        return body;
      }
      if (t.type == TokenType::Data) {
        auto s = std::make_unique<Stmt>(Stmt::Kind::Data, t.pos);
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.type == TokenType::VarBegin) {
        auto s = std::make_unique<Stmt>(Stmt::Kind::Output, t.pos);
        next();
        s->expr = parse_expression();
        if (cur().type != TokenType::VarEnd) {
          syntax_error(cur().pos, "expected '}}' to end the expression, got ", describe(cur()));
        }
        next();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::BlockBegin) {
        const Token& tag = peek();
        if (tag.type != TokenType::Name) syntax_error(tag.pos, "expected a tag name after '{%', got ", describe(tag));
        if (std::find(end_tags.begin(), end_tags.end(), tag.text) != end_tags.end()) {
          next();
          return body;
        }
        next();
        body.push_back(parse_statement());
      } else {
        syntax_error(t.pos, "unexpected ", describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& tag = cur();
    std::string name = tag.text;
    SourcePos pos = tag.pos;
    next();
    if (name == "if") return parse_if(pos);
    if (name == "for") return parse_for(pos);
    if (name == "set") return parse_set(pos);
    if (name == "macro") return parse_macro(pos);
    if (name == "break" || name == "continue") {
      expect_block_end(name);
      return std::make_unique<Stmt>(name == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, pos);
    }
    if (name == "filter") {
      auto s = std::make_unique<Stmt>(Stmt::Kind::FilterBlock, pos);
      s->expr = parse_filter_chain(std::make_unique<Expr>(Expr::Kind::Name, pos), pos);
      expect_block_end(name);
      s->body = subparse({"endfilter"}, "filter", pos);
      next();
      expect_block_end("endfilter");
      return s;
    }
    if (name == "with") {
      auto s = std::make_unique<Stmt>(Stmt::Kind::With, pos);
      while (cur().type != TokenType::BlockEnd) {
        if (!s->targets.empty()) expect_op(",", "between 'with' assignments");
        s->targets.push_back(expect_name("to assign in 'with'"));
        expect_op("=", "in a 'with' assignment");
        s->branches.emplace_back(parse_expression(), Body{});
      }
      next();
      s->body = subparse({"endwith"}, "with", pos);
      next();
      expect_block_end("endwith");
      return s;
    }
    if (name == "generation") {  // transformers' assistant-mask tag: renders its body in place
      auto s = std::make_unique<Stmt>(Stmt::Kind::Group, pos);
      expect_block_end(name);
      s->body = subparse({"endgeneration"}, "generation", pos);
      next();
      expect_block_end("endgeneration");
      return s;
    }
    syntax_error(pos, "unknown tag '", name,
                 "': expected if, for, set, macro, with, filter, generation, break or continue (or the end of an open block)");
  }

  StmtPtr parse_if(SourcePos pos) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::If, pos);
    std::string tag = "if";
    while (true) {
      ExprPtr cond = parse_expression();
      expect_block_end(tag);
      Body body = subparse({"elif", "else", "endif"}, "if", pos);
      s->branches.emplace_back(std::move(cond), std::move(body));
      tag = next().text;
      if (tag == "elif") continue;
      if (tag == "else") {
        expect_block_end("else");
        s->else_body = subparse({"endif"}, "if", pos);
        next();
      }
      expect_block_end("endif");
      return s;
    }
  }

  StmtPtr parse_for(SourcePos pos) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::For, pos);
    const int64_t loop_refs_before = loop_refs_;
    bool paren = skip_op("(");
    do {
      s->targets.push_back(expect_name("as the loop variable"));
    } while (skip_op(","));
    if (paren) expect_op(")", "to close the loop variables");
    if (!skip_name("in")) syntax_error(cur().pos, "expected 'in' after the loop variables, got ", describe(cur()));
    s->expr = parse_or();
    if (skip_name("if")) s->filter = parse_or();
    if (is_name("recursive")) syntax_error(cur().pos, "recursive for loops are not supported");
    expect_block_end("for");
    s->body = subparse({"endfor", "else"}, "for", pos);
    if (next().text == "else") {
      expect_block_end("else");
      s->else_body = subparse({"endfor"}, "for", pos);
      next();
    }
    expect_block_end("endfor");
    s->uses_loop = loop_refs_ != loop_refs_before;
    return s;
  }

  StmtPtr parse_set(SourcePos pos) {
    std::vector<std::string> targets;
    std::string attr;
    do {
      targets.push_back(expect_name("to assign"));
    } while (skip_op(","));
    if (targets.size() == 1 && skip_op(".")) attr = expect_name("as the attribute to assign");
    if (skip_op("=")) {
      auto s = std::make_unique<Stmt>(Stmt::Kind::Set, pos);
      s->targets = std::move(targets);
      s->attr = std::move(attr);
      s->expr = parse_expression();
      if (is_op(",")) {  // `set a = 1, 2` builds a tuple
        auto tuple = std::make_unique<Expr>(Expr::Kind::List, s->expr->pos);
        add_item(*tuple, std::move(s->expr));
        while (skip_op(",")) add_item(*tuple, parse_expression());
        s->expr = std::move(tuple);
      }
      expect_block_end("set");
      return s;
    }
    if (targets.size() != 1 || !attr.empty()) {
      syntax_error(cur().pos, "expected '=' in 'set', got ", describe(cur()));
    }
    auto s = std::make_unique<Stmt>(Stmt::Kind::SetBlock, pos);
    s->targets = std::move(targets);
    if (is_op("|")) s->expr = parse_filter_chain(std::make_unique<Expr>(Expr::Kind::Name, pos), pos);
    if (cur().type != TokenType::BlockEnd) syntax_error(cur().pos, "expected '=' or '%}' in 'set', got ", describe(cur()));
    next();
    s->body = subparse({"endset"}, "set", pos);
    next();
    expect_block_end("endset");
    return s;
  }

  StmtPtr parse_macro(SourcePos pos) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::Macro, pos);
    s->name = expect_name("as the macro name");
    expect_op("(", "after the macro name");
    while (!skip_op(")")) {
      if (!s->params.empty()) expect_op(",", "between macro parameters");
      MacroParam p;
      p.name = expect_name("as a macro parameter");
      if (skip_op("=")) p.default_value = parse_expression();
      s->params.push_back(std::move(p));
    }
    expect_block_end("macro");
    s->body = subparse({"endmacro"}, "macro", pos);
    next();
    expect_block_end("endmacro");
    return s;
  }

  // `filter a(args) | b` applied to the block's text.
  ExprPtr parse_filter_chain(ExprPtr operand, SourcePos pos) {
    operand->name = kBlockText;
    operand->pos = pos;
    skip_op("|");
    ExprPtr e = parse_one_filter(std::move(operand));
    while (skip_op("|")) e = parse_one_filter(std::move(e));
    return e;
  }

  // ---- expressions, in Jinja's precedence order ----

  ExprPtr parse_expression() {
    Nest nest(*this);
    ExprPtr e = parse_or();
    while (is_name("if")) {
      SourcePos pos = next().pos;
      auto cond = std::make_unique<Expr>(Expr::Kind::Cond, pos);
      ExprPtr test = parse_or();
      ExprPtr otherwise;
      if (skip_name("else")) otherwise = parse_expression();
      add_item(*cond, std::move(e));
      add_item(*cond, std::move(test));
      add_item(*cond, std::move(otherwise));
      e = std::move(cond);
    }
    return e;
  }

  ExprPtr binary(const std::string& op, SourcePos pos, ExprPtr l, ExprPtr r) {
    auto e = std::make_unique<Expr>(Expr::Kind::Binary, pos);
    e->name = op;
    add_item(*e, std::move(l));
    add_item(*e, std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      SourcePos pos = next().pos;
      e = binary("or", pos, std::move(e), parse_and());
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      SourcePos pos = next().pos;
      e = binary("and", pos, std::move(e), parse_not());
    }
    return e;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      Nest nest(*this);
      auto e = std::make_unique<Expr>(Expr::Kind::Unary, next().pos);
      e->name = "not";
      add_item(*e, parse_not());
      return e;
    }
    return parse_compare();
  }

  // Comparisons chain as in Python: `a < b < c` is `a < b and b < c`, with b evaluated once.
  ExprPtr parse_compare() {
    ExprPtr first = parse_math1();
    std::unique_ptr<Expr> chain;
    while (true) {
      std::string op;
      SourcePos pos = cur().pos;
      if (cur().type == TokenType::Op &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      if (!chain) {
        chain = std::make_unique<Expr>(Expr::Kind::Compare, pos);
        add_item(*chain, std::move(first));
      }
      chain->ops.push_back(op);
      add_item(*chain, parse_math1());
    }
    return chain ? std::move(chain) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      e = binary(t.text, t.pos, std::move(e), parse_concat());
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      SourcePos pos = next().pos;
      e = binary("~", pos, std::move(e), parse_math2());
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      e = binary(t.text, t.pos, std::move(e), parse_pow());
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      SourcePos pos = next().pos;
      e = binary("**", pos, std::move(e), parse_unary(true));
    }
    return e;
  }

  // As Jinja: a sign binds looser than postfix but the filter applies to the signed value: `-x|abs` is
  // `(-x)|abs`.
  ExprPtr parse_unary(bool with_filter) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      Nest nest(*this);
      const Token& t = next();
      e = std::make_unique<Expr>(Expr::Kind::Unary, t.pos);
      e->name = t.text;
      add_item(*e, parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr literal(SourcePos pos, Value v) {
    auto e = std::make_unique<Expr>(Expr::Kind::Literal, pos);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    SourcePos pos = t.pos;
    switch (t.type) {
      case TokenType::Name: {
        std::string n = next().text;
        if (n == "true" || n == "True") return literal(pos, Value(true));
        if (n == "false" || n == "False") return literal(pos, Value(false));
        if (n == "none" || n == "None") return literal(pos, Value::none());
        if (n == "loop") ++loop_refs_;
        auto e = std::make_unique<Expr>(Expr::Kind::Name, pos);
        e->name = n;
        return e;
      }
      case TokenType::String: {
        std::string s;
        while (cur().type == TokenType::String) s += next().text;  // adjacent literals concatenate
        return literal(pos, Value(std::move(s)));
      }
      case TokenType::Int: return literal(pos, Value(next().int_value));
      case TokenType::Float: return literal(pos, Value(next().float_value));
      case TokenType::Op:
        if (t.text == "(") {
          next();
          if (skip_op(")")) return std::make_unique<Expr>(Expr::Kind::List, pos);  // empty tuple
          ExprPtr e = parse_expression();
          if (is_op(",")) {  // tuple: a list for our purposes
            auto tuple = std::make_unique<Expr>(Expr::Kind::List, pos);
            add_item(*tuple, std::move(e));
            while (skip_op(",") && !is_op(")")) add_item(*tuple, parse_expression());
            e = std::move(tuple);
          }
          expect_op(")", "to close '('");
          return e;
        }
        if (t.text == "[") {
          next();
          auto e = std::make_unique<Expr>(Expr::Kind::List, pos);
          while (!skip_op("]")) {
            if (!e->items.empty()) {
              expect_op(",", "between list items");
              if (skip_op("]")) break;
            }
            add_item(*e, parse_expression());
          }
          return e;
        }
        if (t.text == "{") {
          next();
          auto e = std::make_unique<Expr>(Expr::Kind::Dict, pos);
          while (!skip_op("}")) {
            if (!e->items.empty()) {
              expect_op(",", "between dict items");
              if (skip_op("}")) break;
            }
            add_item(*e, parse_expression());
            expect_op(":", "after a dict key");
            add_item(*e, parse_expression());
          }
          return e;
        }
        break;
      default: break;
    }
    syntax_error(pos, "expected an expression, got ", describe(t));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".")) {
        SourcePos pos = next().pos;
        if (cur().type == TokenType::Int) {  // `x.0` is `x[0]`
          auto g = std::make_unique<Expr>(Expr::Kind::GetItem, pos);
          add_item(*g, std::move(e));
          add_item(*g, literal(cur().pos, Value(next().int_value)));
          e = std::move(g);
          continue;
        }
        auto g = std::make_unique<Expr>(Expr::Kind::GetAttr, pos);
        g->name = expect_name("after '.'");
        add_item(*g, std::move(e));
        e = std::move(g);
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    SourcePos pos = next().pos;
    ExprPtr parts[3];
    int colons = 0;
    if (!is_op(":")) parts[0] = parse_expression();
    while (colons < 2 && skip_op(":")) {
      ++colons;
      if (!is_op(":") && !is_op("]")) parts[colons] = parse_expression();
    }
    expect_op("]", "to close the subscript");
    if (colons == 0) {
      auto g = std::make_unique<Expr>(Expr::Kind::GetItem, pos);
      add_item(*g, std::move(obj));
      add_item(*g, std::move(parts[0]));
      return g;
    }
    auto s = std::make_unique<Expr>(Expr::Kind::Slice, pos);
    add_item(*s, std::move(obj));
    for (auto& p : parts) add_item(*s, std::move(p));
    return s;
  }

  // `(a, b, key=c)`; the operand of a filter or test already sits in items[0].
  void parse_arg_list(Expr& e) {
    expect_op("(", "to start the arguments");
    bool first = true;
    while (!skip_op(")")) {
      if (!first) {
        expect_op(",", "between arguments");
        if (skip_op(")")) return;
      }
      first = false;
      if (cur().type == TokenType::Name && is_op("=", 1)) {
        std::string key = next().text;
        next();
        ExprPtr value = parse_expression();
        note_child(e, value.get());
        e.kwargs.emplace_back(key, std::move(value));
      } else {
        if (!e.kwargs.empty()) syntax_error(cur().pos, "positional argument follows keyword argument");
        add_item(e, parse_expression());
      }
    }
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto c = std::make_unique<Expr>(Expr::Kind::Call, cur().pos);
    add_item(*c, std::move(callee));
    parse_arg_list(*c);
    return c;
  }

  ExprPtr parse_one_filter(ExprPtr operand) {
    SourcePos pos = cur().pos;
    std::string name = expect_name("as the filter name after '|'");
    if (!find_filter(name)) syntax_error(pos, "no filter named '", name, "'");
    auto f = std::make_unique<Expr>(Expr::Kind::Filter, pos);
    f->name = name;
    add_item(*f, std::move(operand));
    if (is_op("(")) parse_arg_list(*f);
    return f;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (skip_op("|")) {
        e = parse_one_filter(std::move(e));
      } else if (is_name("is")) {
        SourcePos pos = next().pos;
        auto t = std::make_unique<Expr>(Expr::Kind::Test, pos);
        t->negated = skip_name("not");
        SourcePos name_pos = cur().pos;
        t->name = expect_name("as the test name after 'is'");
        if (!find_test(t->name)) syntax_error(name_pos, "no test named '", t->name, "'");
        add_item(*t, std::move(e));
        if (is_op("(")) {
          parse_arg_list(*t);
        } else if ((cur().type == TokenType::Name && !is_name("else") && !is_name("or") && !is_name("and")) ||
                   cur().type == TokenType::String || cur().type == TokenType::Int ||
                   cur().type == TokenType::Float || is_op("[") || is_op("{")) {
          add_item(*t, parse_postfix(parse_primary()));  // `x is divisibleby 3`
        }
        e = std::move(t);
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  // Nesting is bounded twice: the parser's own recursion (brackets, `not not ...`, blocks inside blocks) and the
  // depth of the tree it builds (a 100000-term `a+a+...` is parsed by a loop, but evaluating or even destroying
  // it recurses once per term).
  [[noreturn]] void too_deep(SourcePos pos) const {
    syntax_error(pos, "chat template exceeds its limit of ", max_nesting_, " levels of nesting (max_nesting)");
  }
  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) {
      if (++p.nesting_ > p.max_nesting_) {
        --p.nesting_;
        p.too_deep(p.cur().pos);
      }
    }
    ~Nest() { --p.nesting_; }
  };
  void note_child(Expr& parent, const Expr* child) {
    if (!child) return;
    parent.depth = std::max(parent.depth, child->depth + 1);
    if (parent.depth > max_nesting_) too_deep(parent.pos);
  }
  void add_item(Expr& parent, ExprPtr child) {
    note_child(parent, child.get());
    parent.items.push_back(std::move(child));
  }

  std::vector<Token> toks_;
  size_t i_ = 0;
  int max_nesting_;
  int nesting_ = 0;
  int64_t loop_refs_ = 0;  // names `loop` parsed so far: a for body without one need not build it
};

}  // namespace

Body parse_template(std::string_view source, const Limits& limits) {
  return Parser(tokenize(source), limits.max_nesting).parse();
}

}  // namespace synaptix::model::jinja
