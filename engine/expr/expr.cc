#include "expr/expr.h"

#include <cctype>
#include <charconv>
#include <regex>

namespace relengine::expr {

namespace {

const std::set<std::string> kFunctions = {"contains", "startsWith", "endsWith", "matches", "fromJSON"};
constexpr const char* kFunctionList = "contains, startsWith, endsWith, matches, fromJSON";

struct Token {
  enum class Kind { End, Ident, String, Int, LParen, RParen, Comma, Dot, Not, Eq, Ne, And, Or };
  Kind kind = Kind::End;
  std::string text;
  std::size_t offset = 0;
};

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // Throws ExprError.
  std::vector<Token> run() {
    std::vector<Token> out;
    while (true) {
      while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      Token t;
      t.offset = pos_;
      if (pos_ >= text_.size()) {
        out.push_back(t);
        return out;
      }
      char c = text_[pos_];
      auto two = [&](const char* s) { return text_.substr(pos_, 2) == s; };
      if (c == '\'') {
        t.kind = Token::Kind::String;
        ++pos_;
        while (true) {
          if (pos_ >= text_.size()) throw ExprError{"unterminated string literal", t.offset};
          if (text_[pos_] == '\'') {
            if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\'') {
              t.text += '\'';
              pos_ += 2;
              continue;
            }
            ++pos_;
            break;
          }
          t.text += text_[pos_++];
        }
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        t.kind = Token::Kind::Int;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) t.text += text_[pos_++];
        if (pos_ < text_.size() && ident_char(text_[pos_]))
          throw ExprError{"unexpected character '" + std::string(1, text_[pos_]) + "' after a number", pos_};
      } else if (ident_char(c)) {
        t.kind = Token::Kind::Ident;
        while (pos_ < text_.size() && ident_char(text_[pos_])) t.text += text_[pos_++];
        // for_each instances are named ID[ITEM]: the bracket is part of the name.
        if (pos_ < text_.size() && text_[pos_] == '[') {
          auto close = text_.find(']', pos_);
          if (close == std::string_view::npos) throw ExprError{"unterminated '[' in a step id", pos_};
          t.text += std::string(text_.substr(pos_, close - pos_ + 1));
          pos_ = close + 1;
        }
      } else if (two("==")) {
        t.kind = Token::Kind::Eq, pos_ += 2;
      } else if (two("!=")) {
        t.kind = Token::Kind::Ne, pos_ += 2;
      } else if (two("&&")) {
        t.kind = Token::Kind::And, pos_ += 2;
      } else if (two("||")) {
        t.kind = Token::Kind::Or, pos_ += 2;
      } else if (c == '!') {
        t.kind = Token::Kind::Not, ++pos_;
      } else if (c == '(') {
        t.kind = Token::Kind::LParen, ++pos_;
      } else if (c == ')') {
        t.kind = Token::Kind::RParen, ++pos_;
      } else if (c == ',') {
        t.kind = Token::Kind::Comma, ++pos_;
      } else if (c == '.') {
        t.kind = Token::Kind::Dot, ++pos_;
      } else {
        throw ExprError{"unexpected character '" + std::string(1, c) + "'", pos_};
      }
      out.push_back(std::move(t));
    }
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::unique_ptr<Expr> parse_all() {
    if (peek().kind == Token::Kind::End) throw ExprError{"empty expression", peek().offset};
    auto e = parse_or();
    if (peek().kind != Token::Kind::End) throw ExprError{"unexpected '" + describe(peek()) + "'", peek().offset};
    return e;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  Token next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Token::Kind::End:
        return "end of expression";
      case Token::Kind::String:
        return "'" + t.text + "'";
      case Token::Kind::LParen:
        return "(";
      case Token::Kind::RParen:
        return ")";
      case Token::Kind::Comma:
        return ",";
      case Token::Kind::Dot:
        return ".";
      case Token::Kind::Not:
        return "!";
      case Token::Kind::Eq:
        return "==";
      case Token::Kind::Ne:
        return "!=";
      case Token::Kind::And:
        return "&&";
      case Token::Kind::Or:
        return "||";
      default:
        return t.text;
    }
  }

  std::unique_ptr<Expr> binary(Expr::Kind kind, std::unique_ptr<Expr> lhs, std::unique_ptr<Expr> rhs) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = lhs->offset;
    e->length = rhs->offset + rhs->length - lhs->offset;
    e->args.push_back(std::move(lhs));
    e->args.push_back(std::move(rhs));
    return e;
  }

  std::unique_ptr<Expr> parse_or() {
    auto lhs = parse_and();
    while (peek().kind == Token::Kind::Or) {
      next();
      lhs = binary(Expr::Kind::Or, std::move(lhs), parse_and());
    }
    return lhs;
  }

  std::unique_ptr<Expr> parse_and() {
    auto lhs = parse_eq();
    while (peek().kind == Token::Kind::And) {
      next();
      lhs = binary(Expr::Kind::And, std::move(lhs), parse_eq());
    }
    return lhs;
  }

  std::unique_ptr<Expr> parse_eq() {
    auto lhs = parse_unary();
    while (peek().kind == Token::Kind::Eq || peek().kind == Token::Kind::Ne) {
      auto kind = next().kind == Token::Kind::Eq ? Expr::Kind::Eq : Expr::Kind::Ne;
      lhs = binary(kind, std::move(lhs), parse_unary());
    }
    return lhs;
  }

  std::unique_ptr<Expr> parse_unary() {
    if (peek().kind == Token::Kind::Not) {
      auto start = next().offset;
      if (++depth_ > kMaxDepth) throw ExprError{"expression nested too deeply", start};
      auto operand = parse_unary();
      --depth_;
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::Not;
      e->offset = start;
      e->length = operand->offset + operand->length - start;
      e->args.push_back(std::move(operand));
      return e;
    }
    return parse_primary();
  }

  std::unique_ptr<Expr> parse_primary() {
    Token t = next();
    auto e = std::make_unique<Expr>();
    e->offset = t.offset;
    switch (t.kind) {
      case Token::Kind::LParen: {
        if (++depth_ > kMaxDepth) throw ExprError{"expression nested too deeply", t.offset};
        auto inner = parse_or();
        --depth_;
        Token close = next();
        if (close.kind != Token::Kind::RParen)
          throw ExprError{"expected ')' but found '" + describe(close) + "'", close.offset};
        inner->length = close.offset + 1 - inner->offset;
        return inner;
      }
      case Token::Kind::String:
        e->kind = Expr::Kind::Literal;
        e->literal = t.text;
        e->length = (tokens_[pos_].offset > t.offset ? tokens_[pos_].offset - t.offset : 1);
        return e;
      case Token::Kind::Int: {
        std::int64_t i = 0;
        auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), i);
        if (ec != std::errc()) throw ExprError{"integer out of range: " + t.text, t.offset};
        e->kind = Expr::Kind::Literal;
        e->literal = i;
        e->length = t.text.size();
        return e;
      }
      case Token::Kind::Ident:
        break;
      default:
        throw ExprError{t.kind == Token::Kind::End ? "expression ends too early" : "unexpected '" + describe(t) + "'",
                        t.offset};
    }
    if (t.text == "true" || t.text == "false") {
      e->kind = Expr::Kind::Literal;
      e->literal = (t.text == "true");
      e->length = t.text.size();
      return e;
    }
    if (peek().kind == Token::Kind::LParen) return parse_call(t, std::move(e));
    e->kind = Expr::Kind::Ref;
    e->path.push_back(t.text);
    std::size_t end = t.offset + t.text.size();
    while (peek().kind == Token::Kind::Dot) {
      next();
      Token seg = next();
      if (seg.kind != Token::Kind::Ident && seg.kind != Token::Kind::Int)
        throw ExprError{"expected a name after '.' in '" + join(e->path) + ".'", seg.offset};
      e->path.push_back(seg.text);
      end = seg.offset + seg.text.size();
    }
    e->length = end - t.offset;
    return e;
  }

  std::unique_ptr<Expr> parse_call(const Token& name, std::unique_ptr<Expr> e) {
    if (!kFunctions.count(name.text))
      throw ExprError{"unknown function '" + name.text + "' (known: " + kFunctionList + ")", name.offset};
    next();  // (
    e->kind = Expr::Kind::Call;
    e->function = name.text;
    if (++depth_ > kMaxDepth) throw ExprError{"expression nested too deeply", name.offset};
    if (peek().kind != Token::Kind::RParen) {
      while (true) {
        e->args.push_back(parse_or());
        if (peek().kind == Token::Kind::Comma) {
          next();
          continue;
        }
        break;
      }
    }
    --depth_;
    Token close = next();
    if (close.kind != Token::Kind::RParen)
      throw ExprError{"expected ')' or ',' in call of " + name.text + "() but found '" + describe(close) + "'",
                      close.offset};
    e->length = close.offset + 1 - name.offset;
    std::size_t arity = name.text == "fromJSON" ? 1 : 2;
    if (e->args.size() != arity)
      throw ExprError{name.text + "() takes " + std::to_string(arity) + (arity == 1 ? " argument" : " arguments") +
                          ", got " + std::to_string(e->args.size()),
                      name.offset};
    if (name.text == "matches") {
      const Expr& pattern = *e->args[1];
      if (pattern.kind != Expr::Kind::Literal || !pattern.literal.is_string())
        throw ExprError{"matches() takes its regular expression as a string literal", pattern.offset};
      if (auto problem = regex_problem(pattern.literal.str()))
        throw ExprError{"invalid regular expression: " + *problem, pattern.offset};
      try {
        std::regex re(pattern.literal.str(), std::regex::ECMAScript);
      } catch (const std::regex_error& err) {
        throw ExprError{"invalid regular expression '" + pattern.literal.str() + "': " + err.what(), pattern.offset};
      }
    }
    return e;
  }

  static std::string join(const std::vector<std::string>& path) {
    std::string out;
    for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
    return out;
  }

  static constexpr int kMaxDepth = 64;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

// Equality across types compares string forms, so `inputs.alpha == '1'` holds for the int 1.
bool values_equal(const Value& a, const Value& b) {
  if (a.v.index() == b.v.index()) {
    if (a.is_list() || a.is_map()) return to_json(a) == to_json(b);
    return to_string(a) == to_string(b);
  }
  if (a.is_list() || a.is_map() || b.is_list() || b.is_map()) return false;
  return to_string(a) == to_string(b);
}

class Evaluator {
 public:
  explicit Evaluator(const Scope& scope) : scope_(scope) {}

  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal:
        return e.literal;
      case Expr::Kind::Ref:
        return lookup(e);
      case Expr::Kind::Not: {
        Value v = eval(*e.args[0]);
        if (v.is_unknown()) return Unknown{"!" + unknown_text(v)};
        return !truthy(v);
      }
      case Expr::Kind::Eq:
      case Expr::Kind::Ne: {
        Value a = eval(*e.args[0]);
        Value b = eval(*e.args[1]);
        if (a.is_unknown() || b.is_unknown()) return Unknown{"(comparison of a run-time value)"};
        bool eq = values_equal(a, b);
        return e.kind == Expr::Kind::Eq ? eq : !eq;
      }
      case Expr::Kind::And:
      case Expr::Kind::Or: {
        bool is_and = e.kind == Expr::Kind::And;
        Value a = eval(*e.args[0]);
        if (!a.is_unknown() && truthy(a) != is_and) return !is_and;
        Value b = eval(*e.args[1]);
        if (!b.is_unknown() && truthy(b) != is_and) return !is_and;
        if (a.is_unknown() || b.is_unknown()) return Unknown{"(condition on a run-time value)"};
        return is_and;
      }
      case Expr::Kind::Call:
        return call(e);
    }
    return Value();
  }

 private:
  static std::string unknown_text(const Value& v) { return std::get<Unknown>(v.v).text; }

  Value call(const Expr& e) {
    if (e.function == "fromJSON") {
      Value s = eval(*e.args[0]);
      if (s.is_unknown()) return Unknown{"fromJSON(" + unknown_text(s) + ")"};
      if (!s.is_string()) return s;  // already structured
      std::string error;
      auto v = from_json(s.str(), &error);
      if (!v) {
        std::string shown = s.str().size() > 60 ? s.str().substr(0, 60) + "..." : s.str();
        throw ExprError{"fromJSON(): '" + shown + "' is not JSON: " + error, e.offset};
      }
      return *v;
    }
    Value s = eval(*e.args[0]);
    Value arg = eval(*e.args[1]);
    if (s.is_unknown() || arg.is_unknown()) return Unknown{e.function + "(...)"};
    if (e.function == "contains") {
      if (s.is_list()) {
        for (const auto& item : s.list())
          if (values_equal(item, arg)) return true;
        return false;
      }
      return to_string(s).find(to_string(arg)) != std::string::npos;
    }
    std::string text = to_string(s);
    std::string other = to_string(arg);
    if (e.function == "startsWith") return text.compare(0, other.size(), other) == 0 && text.size() >= other.size();
    if (e.function == "endsWith")
      return text.size() >= other.size() && text.compare(text.size() - other.size(), other.size(), other) == 0;
    // matches: the regex was checked when parsing.
    std::regex re(other, std::regex::ECMAScript);
    return std::regex_search(text, re);
  }

  Value lookup(const Expr& e) {
    const auto& p = e.path;
    const std::string& root = p[0];
    auto fail = [&](const std::string& msg) -> Value { throw ExprError{msg, e.offset}; };
    auto from_map = [&](const std::map<std::string, Value>* m, const char* what) -> Value {
      if (p.size() < 2) return fail(std::string("'") + what + "' needs a name: " + what + ".NAME");
      if (!m) return Unknown{ref_text(e)};
      auto it = m->find(p[1]);
      if (it == m->end())
        return fail("unknown " + std::string(what == std::string("inputs") ? "input" : "var") + " '" + p[1] + "'");
      return descend(it->second, e, 2);
    };
    if (root == "inputs") return from_map(scope_.inputs, "inputs");
    if (root == "vars") return from_map(scope_.vars, "vars");
    if (root == "item") {
      if (!scope_.item) return fail("'item' is only defined in a for_each step");
      return descend(*scope_.item, e, 1);
    }
    if (root == "env") {
      if (p.size() != 2) return fail("use env.NAME");
      if (!scope_.env) return Unknown{ref_text(e)};
      auto v = scope_.env(p[1]);
      return v ? Value(*v) : Value(std::string());
    }
    if (root == "run") {
      if (p.size() != 2 || p[1] != "id") return fail("the only run value is run.id");
      if (scope_.run_id.empty()) return Unknown{"run.id"};
      return scope_.run_id;
    }
    if (root == "steps") {
      bool outputs = p.size() == 4 && p[2] == "outputs";
      bool status = p.size() == 3 && p[2] == "status";
      if (!outputs && !status) return fail("use steps.ID.outputs.NAME or steps.ID.status");
      if (!scope_.steps) return Unknown{ref_text(e)};
      auto v = scope_.steps(p[1], p[2], outputs ? p[3] : std::string());
      if (!v) return fail("unknown step '" + p[1] + "'");
      return *v;
    }
    return fail("unknown reference '" + ref_text(e) + "' (known: inputs, vars, steps, item, env, run)");
  }

  Value descend(const Value& base, const Expr& e, std::size_t from) {
    const Value* cur = &base;
    for (std::size_t i = from; i < e.path.size(); ++i) {
      if (cur->is_unknown()) return Unknown{ref_text(e)};
      const Value* next = cur->field(e.path[i]);
      if (!next) throw ExprError{"'" + ref_text(e) + "': no key '" + e.path[i] + "' in that value", e.offset};
      cur = next;
    }
    return *cur;
  }

  const Scope& scope_;
};

StaticType static_of_value(const Value& v) {
  if (v.is_bool()) return StaticType::Bool;
  if (v.is_int()) return StaticType::Int;
  if (v.is_list()) return StaticType::ListValue;
  if (v.is_map()) return StaticType::MapValue;
  return StaticType::String;
}

StaticType check_ref(const Expr& e, const StaticScope& scope, std::vector<ExprError>& errors) {
  const auto& p = e.path;
  auto err = [&](std::string msg) {
    errors.push_back({std::move(msg), e.offset});
    return StaticType::Any;
  };
  const std::string& root = p[0];
  if (root == "inputs" || root == "vars") {
    bool inputs = root == "inputs";
    if (p.size() < 2) return err("'" + root + "' needs a name: " + root + ".NAME");
    const auto& names = inputs ? scope.inputs : scope.vars;
    auto it = names.find(p[1]);
    if (it == names.end()) {
      std::string known;
      for (const auto& [name, type] : names) known += (known.empty() ? "" : ", ") + name;
      return err(std::string("unknown ") + (inputs ? "input" : "var") + " '" + p[1] + "'" +
                 (known.empty() ? std::string(" (none are declared)") : " (declared: " + known + ")"));
    }
    if (p.size() == 2) return it->second;
    if (it->second != StaticType::MapValue && it->second != StaticType::Any)
      return err("'" + ref_text(e) + "': " + root + "." + p[1] + " is a " + static_type_name(it->second) +
                 ", it has no keys");
    return StaticType::Any;
  }
  if (root == "item") {
    if (!scope.item) return err("'item' is only defined in a for_each step");
    return StaticType::Any;
  }
  if (root == "env") {
    if (p.size() != 2) return err("use env.NAME");
    return StaticType::String;
  }
  if (root == "run") {
    if (p.size() != 2 || p[1] != "id") return err("the only run value is run.id");
    return StaticType::String;
  }
  if (root == "steps") {
    bool outputs = p.size() == 4 && p[2] == "outputs";
    bool status = p.size() == 3 && p[2] == "status";
    if (!outputs && !status) return err("use steps.ID.outputs.NAME or steps.ID.status");
    const std::string& id = p[1];
    bool known = scope.steps.count(id) > 0;
    auto bracket = id.find('[');
    if (!known && bracket != std::string::npos && id.back() == ']')
      known = scope.for_each_steps.count(id.substr(0, bracket)) > 0;
    if (!known) return err("unknown step '" + id + "' in '" + ref_text(e) + "'");
    return StaticType::String;
  }
  return err("unknown reference '" + ref_text(e) + "' (known: inputs, vars, steps, item, env, run)");
}

}  // namespace

const char* static_type_name(StaticType t) {
  switch (t) {
    case StaticType::Any:
      return "value";
    case StaticType::String:
      return "string";
    case StaticType::Bool:
      return "bool";
    case StaticType::Int:
      return "int";
    case StaticType::ListValue:
      return "list";
    case StaticType::MapValue:
      return "map";
  }
  return "value";
}

ParseResult parse(std::string_view text) {
  ParseResult out;
  try {
    Parser parser(Lexer(text).run());
    out.expr = parser.parse_all();
  } catch (const ExprError& err) {
    out.error = err;
  }
  return out;
}

std::string ref_text(const Expr& ref) {
  std::string out;
  for (const auto& p : ref.path) out += (out.empty() ? "" : ".") + p;
  return out;
}

std::vector<std::string> referenced_steps(const Expr& expr) {
  std::vector<std::string> out;
  std::vector<const Expr*> work{&expr};
  while (!work.empty()) {
    const Expr* e = work.back();
    work.pop_back();
    if (e->kind == Expr::Kind::Ref && e->path.size() >= 2 && e->path[0] == "steps") out.push_back(e->path[1]);
    for (auto it = e->args.rbegin(); it != e->args.rend(); ++it) work.push_back(it->get());
  }
  return out;
}

EvalResult evaluate(const Expr& expr, const Scope& scope) {
  EvalResult out;
  try {
    out.value = Evaluator(scope).eval(expr);
  } catch (const ExprError& err) {
    out.error = err;
  }
  return out;
}

StaticType check(const Expr& e, const StaticScope& scope, std::vector<ExprError>& errors) {
  switch (e.kind) {
    case Expr::Kind::Literal:
      return static_of_value(e.literal);
    case Expr::Kind::Ref:
      return check_ref(e, scope, errors);
    case Expr::Kind::Call:
      for (const auto& a : e.args) check(*a, scope, errors);
      return e.function == "fromJSON" ? StaticType::Any : StaticType::Bool;
    default:
      for (const auto& a : e.args) check(*a, scope, errors);
      return StaticType::Bool;
  }
}

bool Template::has_expr() const {
  for (const auto& p : parts)
    if (p.is_expr) return true;
  return false;
}

TemplateResult parse_template(std::string_view text) {
  TemplateResult out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto open = text.find("${{", pos);
    if (open == std::string_view::npos) break;
    if (open > pos) out.tmpl.parts.push_back({false, std::string(text.substr(pos, open - pos)), pos, 0});
    // Find the closing "}}", skipping string literals so '}}' inside quotes is allowed.
    std::size_t i = open + 3;
    bool in_string = false;
    std::size_t close = std::string_view::npos;
    for (; i < text.size(); ++i) {
      if (text[i] == '\'')
        in_string = !in_string;
      else if (!in_string && text.substr(i, 2) == "}}") {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos) {
      out.error = ExprError{"'${{' without a closing '}}'", open};
      return out;
    }
    std::string_view inner = text.substr(open + 3, close - open - 3);
    std::size_t lead = 0;
    while (lead < inner.size() && std::isspace(static_cast<unsigned char>(inner[lead]))) ++lead;
    std::size_t trail = inner.size();
    while (trail > lead && std::isspace(static_cast<unsigned char>(inner[trail - 1]))) --trail;
    out.tmpl.parts.push_back({true, std::string(inner.substr(lead, trail - lead)), open + 3 + lead, open});
    pos = close + 2;
  }
  if (pos < text.size()) out.tmpl.parts.push_back({false, std::string(text.substr(pos)), pos, 0});
  return out;
}

std::optional<std::string> regex_problem(std::string_view pattern) {
  if (pattern.size() > 4096) return std::string("the regular expression is longer than 4096 characters");
  std::size_t run = 0;
  for (char c : pattern) {
    run = std::isdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    if (run > 6) return std::string("the regular expression has a number of more than 6 digits");
  }
  return std::nullopt;
}

bool shell_safe(std::string_view value) {
  for (char c : value) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) ||
              std::string_view("._/:@%+=,~^-").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

RenderResult render(std::string_view text, const Scope& scope, RenderMode mode) {
  RenderResult out;
  auto parsed = parse_template(text);
  if (parsed.error) {
    out.error = RenderError{parsed.error->message, std::string(text), parsed.error->offset, false};
    return out;
  }
  const Template& t = parsed.tmpl;
  std::string result;
  for (const auto& part : t.parts) {
    if (!part.is_expr) {
      result += part.text;
      continue;
    }
    std::string shown = "${{ " + part.text + " }}";
    auto p = parse(part.text);
    if (p.error) {
      out.error = RenderError{p.error->message, shown, part.offset + p.error->offset, false};
      return out;
    }
    auto v = evaluate(*p.expr, scope);
    if (v.error) {
      out.error = RenderError{v.error->message, shown, part.offset + v.error->offset, false};
      return out;
    }
    if (mode == RenderMode::Shell && !v.value.is_unknown() && !shell_safe(to_string(v.value))) {
      out.error = RenderError{shown +
                                  " expands to a value with characters that are not safe in shell text; "
                                  "pass it through env: (env: {NAME: " +
                                  shown + "}) and use \"$NAME\" instead",
                              shown, part.open, true};
      return out;
    }
    if (t.single_expr()) {
      out.value = std::move(v.value);
      return out;
    }
    result += to_string(v.value);
  }
  out.value = std::move(result);
  return out;
}

RenderResult render_node(const model::Node& node, const Scope& scope, RenderMode mode) {
  RenderResult out;
  switch (node.kind) {
    case model::Node::Kind::List: {
      List items;
      for (const auto& item : node.items) {
        auto r = render_node(item, scope, mode);
        if (r.error) return r;
        items.push_back(std::move(r.value));
      }
      out.value = std::move(items);
      return out;
    }
    case model::Node::Kind::Map: {
      Map entries;
      for (const auto& [k, item] : node.entries) {
        auto r = render_node(item, scope, mode);
        if (r.error) return r;
        entries.emplace_back(k, std::move(r.value));
      }
      out.value = std::move(entries);
      return out;
    }
    case model::Node::Kind::Scalar:
      break;
  }
  if (node.scalar.find("${{") == std::string::npos) {
    out.value = from_node(node);
    return out;
  }
  return render(node.scalar, scope, mode);
}

}  // namespace relengine::expr
