#include <doctest/doctest.h>

#include "expr/expr.h"

using namespace relengine::expr;

namespace {

struct Fixture {
  std::map<std::string, Value> inputs{
      {"version", Value("v1.2.3")}, {"alpha", Value(2)}, {"pre", Value(true)}, {"empty", Value("")}};
  std::map<std::string, Value> vars{{"modules", Value(List{Value("api"), Value("cli")})},
                                    {"cfg", Value(Map{{"name", Value("x")}})}};
  Scope scope() {
    Scope s;
    s.inputs = &inputs;
    s.vars = &vars;
    s.run_id = "r1";
    s.env = [](const std::string& n) -> std::optional<std::string> {
      if (n == "HOME") return std::string("/home/u");
      return std::nullopt;
    };
    return s;
  }
  Value eval(const std::string& text) {
    auto p = parse(text);
    REQUIRE_MESSAGE(!p.error, text << ": " << (p.error ? p.error->message : ""));
    auto r = evaluate(*p.expr, scope());
    REQUIRE_MESSAGE(!r.error, text << ": " << (r.error ? r.error->message : ""));
    return r.value;
  }
  std::string eval_error(const std::string& text) {
    auto p = parse(text);
    if (p.error) return p.error->message;
    auto r = evaluate(*p.expr, scope());
    return r.error ? r.error->message : "";
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "literals, references and operators") {
  CHECK(eval("'it''s'").str() == "it's");
  CHECK(eval("42").integer() == 42);
  CHECK(eval("true").boolean());
  CHECK(eval("inputs.version").str() == "v1.2.3");
  CHECK(eval("inputs.alpha").integer() == 2);
  CHECK(eval("vars.modules").list().size() == 2);
  CHECK(eval("vars.cfg.name").str() == "x");
  CHECK(eval("env.HOME").str() == "/home/u");
  CHECK(eval("env.UNSET_VAR").str().empty());
  CHECK(eval("run.id").str() == "r1");
  CHECK(eval("!inputs.pre").boolean() == false);
  CHECK(eval("!inputs.empty").boolean() == true);
  CHECK(eval("inputs.version == 'v1.2.3'").boolean());
  CHECK(eval("inputs.version != 'v1.2.3'").boolean() == false);
  CHECK(eval("inputs.alpha == 2 && inputs.pre").boolean());
  CHECK(eval("inputs.alpha == '2'").boolean());                    // int vs string compares string forms
  CHECK(eval("false || inputs.pre && false").boolean() == false);  // && binds tighter
  CHECK(eval("(false || inputs.pre) && true").boolean());
  CHECK(eval("!(inputs.alpha == 3)").boolean());
}

TEST_CASE_FIXTURE(Fixture, "functions") {
  CHECK(eval("contains(inputs.version, '.2.')").boolean());
  CHECK(eval("contains(vars.modules, 'cli')").boolean());
  CHECK(eval("contains(vars.modules, 'c')").boolean() == false);
  CHECK(eval("startsWith(inputs.version, 'v1.')").boolean());
  CHECK(eval("startsWith('v', 'v1.')").boolean() == false);
  CHECK(eval("endsWith(inputs.version, '.3')").boolean());
  CHECK(eval("endsWith('3', 'v1.3')").boolean() == false);
  CHECK(eval("matches(inputs.version, '^v[0-9]+\\.[0-9]+\\.[0-9]+$')").boolean());
  CHECK(eval("matches(inputs.version, 'alpha')").boolean() == false);
}

TEST_CASE_FIXTURE(Fixture, "malformed expressions are errors with an offset") {
  auto err = [](const std::string& text) { return parse(text).error; };
  CHECK(err("")->message == "empty expression");
  CHECK(err("inputs.")->message.find("expected a name") != std::string::npos);
  CHECK(err("'open")->message == "unterminated string literal");
  CHECK(err("a == ")->message == "expression ends too early");
  CHECK(err("(a")->message.find("expected ')'") != std::string::npos);
  CHECK(err("a b")->offset == 2);
  CHECK(err("a # b")->message == "unexpected character '#'");
  CHECK(err("foo(a, b)")->message.find("unknown function 'foo'") != std::string::npos);
  CHECK(err("contains(a)")->message == "contains() takes 2 arguments, got 1");
  CHECK(err("matches(a, b)")->message.find("string literal") != std::string::npos);
  CHECK(err("matches(a, '[')")->message.find("invalid regular expression") != std::string::npos);
  CHECK(err("99999999999999999999")->message.find("out of range") != std::string::npos);
  CHECK(err(std::string(200, '(') + "a" + std::string(200, ')'))->message == "expression nested too deeply");
  CHECK(err(std::string(200, '!') + "a")->message == "expression nested too deeply");
}

TEST_CASE_FIXTURE(Fixture, "evaluation errors: unknown names") {
  CHECK(eval_error("inputs.nope") == "unknown input 'nope'");
  CHECK(eval_error("vars.nope") == "unknown var 'nope'");
  CHECK(eval_error("item") == "'item' is only defined in a for_each step");
  CHECK(eval_error("secrets.x").find("unknown reference 'secrets.x'") == 0);
  CHECK(eval_error("run.name") == "the only run value is run.id");
  CHECK(eval_error("vars.cfg.missing").find("no key 'missing'") != std::string::npos);
}

TEST_CASE("values unknown at plan time propagate, but && and || short-circuit on known sides") {
  std::map<std::string, Value> inputs{{"a", Value(true)}};
  Scope s;
  s.inputs = &inputs;
  s.steps = [](const std::string&, const std::string&, const std::string&) -> std::optional<Value> {
    return Value(Unknown{"steps.x.outputs.y"});
  };
  auto run = [&](const std::string& text) { return evaluate(*parse(text).expr, s).value; };
  CHECK(run("steps.x.outputs.y").is_unknown());
  CHECK(run("steps.x.outputs.y == 'z'").is_unknown());
  CHECK(run("false && steps.x.outputs.y == 'z'").boolean() == false);
  CHECK(run("inputs.a || steps.x.status == 'failed'").boolean() == true);
  CHECK(run("inputs.a && steps.x.status == 'failed'").is_unknown());
}

TEST_CASE_FIXTURE(Fixture, "templates keep types when they are one expression and render text otherwise") {
  auto r = render("${{ vars.modules }}", scope(), RenderMode::Plain);
  REQUIRE(!r.error);
  CHECK(r.value.is_list());
  r = render("${{ inputs.alpha }}", scope(), RenderMode::Plain);
  CHECK(r.value.is_int());
  r = render("tag ${{ inputs.version }}-alpha.${{ inputs.alpha }} ok", scope(), RenderMode::Plain);
  CHECK(r.value.str() == "tag v1.2.3-alpha.2 ok");
  r = render("list=${{ vars.modules }}", scope(), RenderMode::Plain);
  CHECK(r.value.str() == "list=[\"api\",\"cli\"]");
  r = render("no expressions", scope(), RenderMode::Plain);
  CHECK(r.value.str() == "no expressions");
  r = render("a ${{ '}}' }} b", scope(), RenderMode::Plain);
  CHECK(r.value.str() == "a }} b");
  r = render("broken ${{ inputs.version", scope(), RenderMode::Plain);
  REQUIRE(r.error);
  CHECK(r.error->offset == 7);
}

TEST_CASE("injection guard: only values of the safe alphabet enter shell text") {
  CHECK(shell_safe("v1.2.3-alpha.1"));
  CHECK(shell_safe("src/cloud-api-adaptor/v0.8.0"));
  CHECK(shell_safe("user@host:path,a=b+c~d^e%f"));
  CHECK(shell_safe(""));
  for (std::string bad :
       {"a b", "a;b", "$(x)", "`x`", "a|b", "a&b", "a>b", "'", "\"", "a\nb", "*", "?", "[a]", "{a}", "a\\b", "!x"})
    CHECK_MESSAGE(!shell_safe(bad), bad);

  std::map<std::string, Value> inputs{{"msg", Value("hi; rm -rf /")}, {"ok", Value("v1")}};
  Scope s;
  s.inputs = &inputs;
  auto r = render("echo ${{ inputs.msg }}", s, RenderMode::Shell);
  REQUIRE(r.error);
  CHECK(r.error->injection);
  CHECK(r.error->expression == "${{ inputs.msg }}");
  CHECK(r.error->offset == 5);
  CHECK(r.error->message.find("env:") != std::string::npos);
  CHECK(render("echo ${{ inputs.msg }}", s, RenderMode::Plain).value.str() == "echo hi; rm -rf /");
  CHECK(render("echo ${{ inputs.ok }}", s, RenderMode::Shell).value.str() == "echo v1");
}

TEST_CASE("static check: references, types and scopes") {
  StaticScope scope;
  scope.inputs = {{"version", StaticType::String}, {"pre", StaticType::Bool}};
  scope.vars = {{"modules", StaticType::ListValue}};
  scope.steps = {"build"};
  scope.for_each_steps = {"tag"};
  auto check_text = [&](const std::string& text, std::vector<ExprError>& errors) {
    return check(*parse(text).expr, scope, errors);
  };
  std::vector<ExprError> errors;
  CHECK(check_text("vars.modules", errors) == StaticType::ListValue);
  CHECK(check_text("inputs.pre", errors) == StaticType::Bool);
  CHECK(check_text("steps.build.outputs.sha", errors) == StaticType::String);
  CHECK(check_text("steps.tag[api].outputs.sha", errors) == StaticType::String);
  CHECK(check_text("steps.build.status == 'succeeded'", errors) == StaticType::Bool);
  CHECK(errors.empty());
  check_text("inputs.verison", errors);
  check_text("steps.nope.outputs.x", errors);
  check_text("steps.build.output.x", errors);
  check_text("item", errors);
  check_text("'a' == vars.nope", errors);
  REQUIRE(errors.size() == 5);
  CHECK(errors[0].message == "unknown input 'verison' (declared: pre, version)");
  CHECK(errors[1].message.find("unknown step 'nope'") == 0);
  CHECK(errors[2].message == "use steps.ID.outputs.NAME or steps.ID.status");
  CHECK(errors[3].message == "'item' is only defined in a for_each step");
  CHECK(errors[4].offset == 7);
  scope.item = true;
  errors.clear();
  check_text("item.name", errors);
  CHECK(errors.empty());
}

TEST_CASE("from_node types plain scalars and keeps quoted ones as strings") {
  relengine::model::Node n;
  n.scalar = "true";
  n.plain = true;
  CHECK(from_node(n).is_bool());
  n.scalar = "3.9";
  CHECK(from_node(n).is_string());
  n.scalar = "12";
  CHECK(from_node(n).integer() == 12);
  n.plain = false;
  CHECK(from_node(n).is_string());
}

TEST_CASE("regexes that would overflow libstdc++ are refused before compiling (fuzzer finding)") {
  CHECK(regex_problem("^v[0-9]+$") == std::nullopt);
  CHECK(regex_problem("a{1,999999}") == std::nullopt);
  CHECK(regex_problem("x\\44444444444444").has_value());
  CHECK(regex_problem("a{1,99999999999}").has_value());
  CHECK(regex_problem(std::string(5000, 'a')).has_value());
  CHECK(parse("matches(a, 'pendsWith\\4444444444444444444444')").error->message.find("more than 6 digits") !=
        std::string::npos);
}

TEST_CASE_FIXTURE(Fixture, "fromJSON: JSON text to typed values — bad or too deep JSON is an error") {
  Value v = eval("fromJSON('[\"a\", 2, true, {\"k\": \"v\"}, null]')");
  REQUIRE(v.is_list());
  REQUIRE(v.list().size() == 5);
  CHECK(v.list()[0].str() == "a");
  CHECK(v.list()[1].integer() == 2);
  CHECK(v.list()[2].boolean());
  CHECK(v.list()[3].field("k")->str() == "v");
  CHECK(v.list()[4].str().empty());
  CHECK(eval("fromJSON('18446744073709551615')").str() == "18446744073709551615");  // never wraps
  CHECK(eval("fromJSON(vars.modules)").is_list());                                  // already structured
  CHECK(eval_error("fromJSON('[oops')").find("is not JSON") != std::string::npos);
  CHECK(eval_error("fromJSON('a', 'b')").find("takes 1 argument") != std::string::npos);
  std::string deep(100, '[');
  deep += std::string(100, ']');
  CHECK(eval_error("fromJSON('" + deep + "')").find("64 levels") != std::string::npos);
  // At plan time a step output is unknown, and so is what fromJSON makes of it.
  Scope s = scope();
  auto p = parse("fromJSON(steps.find.outputs.list)");
  REQUIRE(p.expr);
  CHECK(evaluate(*p.expr, s).value.is_unknown());
  // Statically, fromJSON may be a list: for_each accepts it.
  StaticScope st;
  st.steps = {"find"};
  std::vector<ExprError> errors;
  CHECK(check(*p.expr, st, errors) == StaticType::Any);
  CHECK(errors.empty());
}
