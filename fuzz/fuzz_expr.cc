// libFuzzer target: bytes -> template and expression parsing, static checks, evaluation and
// rendering with the injection guard. Must never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "expr/expr.h"

using namespace relengine::expr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, Value> inputs{{"version", Value("v1.2.3")}, {"n", Value(3)}, {"flag", Value(true)}};
  std::map<std::string, Value> vars{{"list", Value(List{Value("a"), Value("b")})},
                                    {"map", Value(Map{{"k", Value("v")}})}};
  Value item("x");
  Scope scope;
  scope.inputs = &inputs;
  scope.vars = &vars;
  scope.item = &item;
  scope.run_id = "r";
  scope.steps = [](const std::string&, const std::string&, const std::string&) -> std::optional<Value> {
    return Value("out");
  };
  StaticScope statics;
  statics.inputs = {{"version", StaticType::String}, {"n", StaticType::Int}, {"flag", StaticType::Bool}};
  statics.vars = {{"list", StaticType::List}, {"map", StaticType::Map}};
  statics.steps = {"a"};
  statics.item = true;
  auto p = parse(text);
  if (p.expr) {
    std::vector<ExprError> errors;
    check(*p.expr, statics, errors);
    (void)evaluate(*p.expr, scope);
  }
  (void)render(text, scope, RenderMode::Shell);
  (void)render(text, scope, RenderMode::Plain);
  return 0;
}
