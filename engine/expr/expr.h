// The ${{ }} expression language: parse, statically check, evaluate, and render templates
// (strings with embedded expressions), including the injection guard for shell text.
// Used by load/ (checks at validation time), plan/ and exec/ (rendering).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "expr/value.h"

namespace relengine::expr {

struct Expr {
  enum class Kind { Literal, Ref, Not, Eq, Ne, And, Or, Call };
  Kind kind = Kind::Literal;
  Value literal;                            // Literal
  std::vector<std::string> path;            // Ref: inputs.x -> {"inputs", "x"}
  std::string function;                     // Call
  std::vector<std::unique_ptr<Expr>> args;  // operands / call arguments
  std::size_t offset = 0;                   // position in the expression text
  std::size_t length = 0;
};

// A problem inside an expression; `offset` counts from the start of the text given to parse().
struct ExprError {
  std::string message;
  std::size_t offset = 0;
};

struct ParseResult {
  std::unique_ptr<Expr> expr;
  std::optional<ExprError> error;
};

ParseResult parse(std::string_view text);

// The dotted text of a reference ("steps.a.outputs.sha").
std::string ref_text(const Expr& ref);

// The step ids an expression reads (`steps.ID...`), in order, with repeats.
std::vector<std::string> referenced_steps(const Expr& expr);

// What the evaluator may read. Absent entries are unknown references (an error);
// a scope may answer Unknown for things only known at run time.
struct Scope {
  const std::map<std::string, Value>* inputs = nullptr;
  const std::map<std::string, Value>* vars = nullptr;
  // steps.ID.outputs.KEY (field "outputs") and steps.ID.status (field "status", key "").
  std::function<std::optional<Value>(const std::string& step, const std::string& field, const std::string& key)> steps;
  const Value* item = nullptr;
  std::function<std::optional<std::string>(const std::string& name)> env;  // unset: unknown until run time
  std::string run_id;                                                      // empty: unknown until run time
};

struct EvalResult {
  Value value;
  std::optional<ExprError> error;
};

EvalResult evaluate(const Expr& expr, const Scope& scope);

// ---- Static checks (validation time) ----

enum class StaticType { Any, String, Bool, Int, ListValue, MapValue };  // (not List, Map: the value types)
const char* static_type_name(StaticType t);

struct StaticScope {
  std::map<std::string, StaticType> inputs;
  std::map<std::string, StaticType> vars;
  std::set<std::string> steps;           // plain step ids
  std::set<std::string> for_each_steps;  // ids that expand, so ID[ITEM] is known too
  bool item = false;                     // inside a for_each step
};

// Checks every reference; returns the expression's type (Any when it cannot be known).
StaticType check(const Expr& expr, const StaticScope& scope, std::vector<ExprError>& errors);

// ---- Templates: text with ${{ }} parts ----

struct TemplatePart {
  bool is_expr = false;
  std::string text;        // literal text, or the expression's source
  std::size_t offset = 0;  // position in the template of the text (of the expression's first char)
  std::size_t open = 0;    // position of "${{" for an expression part
};

struct Template {
  std::vector<TemplatePart> parts;
  // Exactly one ${{ }} and nothing else: rendering keeps the value's type.
  bool single_expr() const { return parts.size() == 1 && parts[0].is_expr; }
  bool has_expr() const;
};

struct TemplateResult {
  Template tmpl;
  std::optional<ExprError> error;
};
TemplateResult parse_template(std::string_view text);

enum class RenderMode { Plain, Shell };

struct RenderError {
  std::string message;
  std::string expression;  // the ${{ }} text involved
  std::size_t offset = 0;  // of that expression in the template
  bool injection = false;  // the injection guard refused a value
};

struct RenderResult {
  Value value;
  std::optional<RenderError> error;
};

// Renders a template. In Shell mode every substituted value must pass the injection guard.
RenderResult render(std::string_view text, const Scope& scope, RenderMode mode);

// Renders every scalar of a structural YAML value (lists and maps keep their shape;
// plain scalars without ${{ }} keep their YAML type).
RenderResult render_node(const model::Node& node, const Scope& scope, RenderMode mode);

// Why std::regex must not compile this ECMAScript pattern, or nullopt: libstdc++ overflows
// (undefined behaviour) on long numbers in back-references and counted repetitions (found by
// fuzzing), so numbers of more than 6 digits and patterns over 4096 characters are refused.
std::optional<std::string> regex_problem(std::string_view pattern);

// A value may be pasted into shell text: ^[A-Za-z0-9._/:@%+=,~^-]*$
bool shell_safe(std::string_view value);

}  // namespace relengine::expr
