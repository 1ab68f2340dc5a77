#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "load/loader.h"

using namespace relengine;

namespace {

std::vector<std::string> errors_of(const load::LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diags.sorted())
    if (d.severity == load::Severity::Error) out.push_back(load::format(d));
  return out;
}

const char* kMinimal = R"(version: 1
name: demo
description: A demo
inputs:
  version: {required: true, pattern: '^v'}
  count: {type: int, default: 3}
  token: {secret: true}
vars:
  modules: [a, b]
defaults:
  shell: sh
  timeout: 1h30m
  retry: {attempts: 3, delay: 10s, backoff: 2}
  env: {GOFLAGS: -mod=mod}
phases:
  - id: one
    name: First
    steps:
      - id: s1
        run: echo hi
        done_if: test -f x
        timeout: 500ms
        lock: repo
        env: {A: "1"}
      - id: s2
        needs: []
        uses: yaml.set
        with: {file: f.yaml, key: a.b, value: "x"}
      - id: s3
        manual: Approve?
        irreversible: true
        for_each: [x, y]
)";

}  // namespace

TEST_CASE("a valid playbook loads into the model with every field") {
  auto r = load::load_text("demo.yaml", kMinimal);
  REQUIRE(errors_of(r).empty());
  REQUIRE(r.playbook);
  const auto& pb = *r.playbook;
  CHECK(pb.name.value == "demo");
  CHECK(pb.description.value == "A demo");
  REQUIRE(pb.inputs.size() == 3);
  CHECK(pb.inputs[0].required);
  CHECK(pb.inputs[1].type == model::InputType::Int);
  CHECK(pb.inputs[1].default_value->scalar == "3");
  CHECK(pb.inputs[2].secret);
  CHECK(pb.inputs[2].env == "TOKEN");  // a secret's variable defaults to its name in capitals
  CHECK(pb.vars[0].value.items.size() == 2);
  CHECK(pb.defaults.shell.value == "sh");
  CHECK(*pb.defaults.timeout == std::chrono::minutes(90));
  CHECK(pb.defaults.retry->attempts == 3);
  CHECK(pb.defaults.retry->delay == std::chrono::seconds(10));
  CHECK(pb.defaults.retry->delay == std::chrono::seconds(10));
  CHECK(pb.defaults.retry->backoff == 2);
  CHECK(pb.defaults.env[0].first == "GOFLAGS");
  const auto& steps = pb.phases[0].steps;
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].action == model::ActionKind::Run);
  CHECK(steps[0].action_mark.line == 20);
  CHECK(steps[0].action_mark.col == 9);
  CHECK(*steps[0].timeout == std::chrono::milliseconds(500));
  CHECK(steps[0].lock.value == "repo");
  CHECK(steps[0].phase == "one");
  CHECK(!steps[0].needs_given);
  CHECK(steps[1].needs_given);
  CHECK(steps[1].needs.empty());
  CHECK(steps[1].with->entries.size() == 3);
  CHECK(steps[2].action == model::ActionKind::Manual);
  CHECK(steps[2].irreversible);
  CHECK(steps[2].for_each->items.size() == 2);
  CHECK(steps[2].id.mark.line == 29);
  CHECK(steps[2].id.mark.col == 13);
}

TEST_CASE("parse_duration") {
  using namespace std::chrono_literals;
  CHECK(*load::parse_duration("10m") == 600s);
  CHECK(*load::parse_duration("1h30m") == 5400s);
  CHECK(*load::parse_duration("250ms") == 250ms);
  CHECK(*load::parse_duration("2h1m5s") == 7265s);
  CHECK(*load::parse_duration("1m1ms") == 60001ms);
  CHECK(*load::parse_duration("0s") == 0ms);
  CHECK(!load::parse_duration("10"));
  CHECK(!load::parse_duration("m"));
  CHECK(!load::parse_duration("1d"));
  CHECK(!load::parse_duration("1m s"));
  CHECK(!load::parse_duration("-1s"));
  CHECK(!load::parse_duration(""));
  // Beyond the range: the range's end, never a wrap or an exception, however many digits.
  CHECK(*load::parse_duration("9223372036854775807ms") == std::chrono::milliseconds::max());
  CHECK(*load::parse_duration("9223372036854775807s") == std::chrono::milliseconds::max());
  CHECK(*load::parse_duration("99999999999999999999h") == std::chrono::milliseconds::max());
  CHECK(*load::parse_duration(std::string(400, '9') + "s") == std::chrono::milliseconds::max());
  CHECK(*load::parse_duration("9223372036854775807ms1ms") == std::chrono::milliseconds::max());
}

TEST_CASE("retry_delay: delay x backoff^(attempt-1), saturating at a day") {
  using namespace std::chrono_literals;
  model::Retry r;
  r.delay = 10s;
  r.backoff = 2;
  CHECK(model::retry_delay(r, 1) == 10s);
  CHECK(model::retry_delay(r, 2) == 20s);
  CHECK(model::retry_delay(r, 4) == 80s);
  CHECK(model::retry_delay(r, 99) == model::kMaxRetryDelay);  // 10s x 2^98
  r.backoff = 10;
  r.delay = model::kMaxRetryDelay;
  CHECK(model::retry_delay(r, 100) == model::kMaxRetryDelay);
  CHECK(model::retry_delay(r, 2147483647) == model::kMaxRetryDelay);
  r.delay = 0s;  // retry at once, whatever the backoff
  CHECK(model::retry_delay(r, 50) == 0s);
  r.delay = 1500ms;
  r.backoff = 1.5;
  CHECK(model::retry_delay(r, 3) == 3375ms);
  r.backoff = 1;
  CHECK(model::retry_delay(r, 100) == 1500ms);
  CHECK(model::retry_delay(r, 0) == 1500ms);
}

namespace {

// A playbook of one step with `line` (indented as a step key) added to it.
std::vector<std::string> errors_with_step_line(const std::string& line) {
  return errors_of(load::load_text("p.yaml",
                                   "version: 1\nname: d\nphases:\n  - id: one\n    steps:\n      - id: a\n"
                                   "        run: 'true'\n        idempotent: true\n        " +
                                       line + "\n"));
}

}  // namespace

TEST_CASE("durations are range-checked, with positioned errors, however many digits they have") {
  // Before: std::stod threw on 400 digits (exit 70), and 99999999999999999999h loaded and
  // became a negative timeout once cast to milliseconds.
  auto errs = errors_with_step_line("timeout: " + std::string(400, '9') + "s");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].rfind("p.yaml:9:18: error: 'timeout' must be at most 168h (7 days), not '999", 0) == 0);
  errs = errors_with_step_line("timeout: 99999999999999999999h");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "p.yaml:9:18: error: 'timeout' must be at most 168h (7 days), not '99999999999999999999h'");
  errs = errors_with_step_line("timeout: 168h1ms");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].find("'timeout' must be at most 168h (7 days)") != std::string::npos);
  CHECK(errors_with_step_line("timeout: 168h").empty());
  CHECK(errors_with_step_line("timeout: 10079m60s").empty());
  errs = errors_with_step_line("retry: {attempts: 3, delay: 25h}");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "p.yaml:9:37: error: 'delay' must be at most 24h (1 day), not '25h'");
  errs = errors_with_step_line("retry: {attempts: 3, delay: 18446744073709551616ms}");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].find("'delay' must be at most 24h (1 day)") != std::string::npos);
  CHECK(errors_with_step_line("retry: {attempts: 3, delay: 24h}").empty());
  CHECK(errors_with_step_line("retry: {attempts: 3, delay: 0s}").empty());
  // The same bounds under defaults.
  auto r = load::load_text("p.yaml",
                           "version: 1\nname: d\ndefaults:\n  timeout: 200h\n  retry: {delay: 90000s}\n"
                           "phases:\n  - id: one\n    steps: [{id: a, run: 'true', idempotent: true}]\n");
  errs = errors_of(r);
  REQUIRE(errs.size() == 2);
  CHECK(errs[0] == "p.yaml:4:12: error: 'timeout' must be at most 168h (7 days), not '200h'");
  CHECK(errs[1] == "p.yaml:5:18: error: 'delay' must be at most 24h (1 day), not '90000s'");
}

TEST_CASE("an int input's default beyond 64 bits is a positioned error") {
  auto r =
      load::load_text("p.yaml",
                      "version: 1\nname: d\ninputs:\n  alpha: {type: int, default: 123456789012345678901234567890}\n"
                      "phases:\n  - id: one\n    steps: [{id: a, run: 'true', idempotent: true}]\n");
  auto errs = errors_of(r);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] ==
        "p.yaml:4:31: error: default of int input 'alpha' is out of range for an int "
        "(-9223372036854775808 to 9223372036854775807): '123456789012345678901234567890'");
  r = load::load_text("p.yaml",
                      "version: 1\nname: d\ninputs:\n  alpha: {type: int, default: -9223372036854775808}\n"
                      "phases:\n  - id: one\n    steps: [{id: a, run: 'true', idempotent: true}]\n");
  CHECK(errors_of(r).empty());
}

TEST_CASE("schema errors map back to the key or value they are about, all in one pass") {
  // Regression: mapping a schema error once rebound yaml-cpp nodes with operator=, which
  // overwrote the document, so later errors pointed at the wrong place.
  auto r = load::load_text("p.yaml", R"(version: 1
name: demo
phases:
  - id: one
    steps:
      - id: a
        rnu: echo
        run: "true"
        idempotent: true
      - id: b
        run: "true"
        idempotent: yes-please
        retries: 3
      - id: c
        uses: git.tag
        with: {tag: v1, remote: origin, sign: true}
)");
  auto errs = errors_of(r);
  REQUIRE(errs.size() == 4);
  CHECK(errs[0] == "p.yaml:7:9: error: unknown key 'rnu' (did you mean 'run'?)");
  CHECK(errs[1] == "p.yaml:12:21: error: 'idempotent' must be true or false, not 'yes-please'");
  CHECK(errs[2] == "p.yaml:13:9: error: unknown key 'retries' (did you mean 'retry'?)");
  CHECK(errs[3] == "p.yaml:16:41: error: unknown key 'sign' (known keys: message, ref, remote, repo, tag)");
  CHECK(!r.playbook);
}

TEST_CASE("structural type errors the YAML adapter cannot see are reported by the builder") {
  auto r = load::load_text("p.yaml",
                           "version: 1\nname: demo\nphases:\n  - id: one\n    name: [a]\n    steps:\n"
                           "      - id: a\n        manual: {text: hi}\n");
  auto errs = errors_of(r);
  REQUIRE(errs.size() == 2);
  CHECK(errs[0] == "p.yaml:5:11: error: 'name' must be a string, not a list");
  CHECK(errs[1] == "p.yaml:8:17: error: 'manual' must be a string, not a map");
}

TEST_CASE("expressions are checked with their position inside block scalars") {
  auto r = load::load_text("p.yaml", R"(version: 1
name: demo
inputs:
  v: {default: x}
phases:
  - id: one
    steps:
      - id: a
        idempotent: true
        run: |
          echo start
          echo ${{ inputs.v }} and ${{ inputs.w }}
)");
  auto errs = errors_of(r);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "p.yaml:12:40: error: unknown input 'w' (declared: v)");
}

TEST_CASE("vars may use inputs and earlier vars, not later ones") {
  auto r = load::load_text("p.yaml", R"(version: 1
name: demo
inputs:
  v: {default: x}
vars:
  a: ${{ inputs.v }}
  b: ${{ vars.a }}-${{ vars.c }}
  c: z
phases:
  - id: one
    steps: [{id: s, run: "true", idempotent: true}]
)");
  auto errs = errors_of(r);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].find("p.yaml:7:24: error: unknown var 'c'") == 0);
}

TEST_CASE("hostile input never crashes the loader") {
  const char* docs[] = {
      "",
      "---\n...\n",
      "[1, 2]",
      "version: 1\nname: x\nphases: 5\n",
      "version: 1\nname: x\nphases: [5, [6], {}]\n",
      "version: 1\nname: x\nphases:\n  - id: a\n    steps: [1, null, [], {}]\n",
      "version: 1\nname: x\nphases:\n  - id: a\n    steps:\n      - id: s\n        run: x\n        retry: {attempts: "
      "99999999999999999999999}\n",
      "version: one\nname: {a: b}\nphases: []\n",
      "a: &x [*x]\n",
      "version: 1\nname: x\ninputs: [a]\nvars: 3\ndefaults: []\nphases:\n  - id: a\n    steps: [{id: s, run: x, env: "
      "[1], for_each: {}}]\n",
      "\t- bad indentation\n",
      "version: 1\nname: x\nphases:\n  - id: a\n    steps: [{id: s, run: '${{ ${{ }} }}'}]\n",
      "version: 1\nname: x\nphases:\n  - id: a\n    steps: [{id: s, needs: {a: 1}, run: x, preconditions: [[1]]}]\n",
  };
  for (const char* doc : docs) {
    CAPTURE(doc);
    auto r = load::load_text("h.yaml", doc);
    CHECK(r.diags.has_errors());
    CHECK(!r.playbook);
  }
  std::string deep = "version: 1\nname: x\nphases: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  CHECK(load::load_text("h.yaml", deep).diags.has_errors());
}

TEST_CASE("a YAML syntax error is positioned") {
  auto r = load::load_text("p.yaml", "version: 1\nname: x\nphases:\n  - id: a\n   steps: 'open\n");
  auto errs = errors_of(r);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].rfind("p.yaml:", 0) == 0);
  CHECK(errs[0].find("YAML syntax error") != std::string::npos);
  CHECK(errs[0].find("p.yaml:0") == std::string::npos);
}

TEST_CASE("a precondition may be a bare command") {
  auto r = load::load_text("p.yaml",
                           "version: 1\nname: d\nphases:\n  - id: one\n    steps:\n      - id: a\n"
                           "        preconditions: [git diff --quiet, {run: test -f x, message: no x}]\n"
                           "        run: 'true'\n        idempotent: true\n");
  REQUIRE(r.playbook);
  const auto& pre = r.playbook->phases[0].steps[0].preconditions;
  REQUIRE(pre.size() == 2);
  CHECK(pre[0].run.value == "git diff --quiet");
  CHECK(pre[1].message.value == "no x");
}

TEST_CASE("content_hash: same bytes, same hash — any change of a byte, another — validator_id names the version") {
  using relengine::load::content_hash;
  std::string a = "version: 1\nname: t\nphases: []\n";
  CHECK(content_hash(a) == content_hash(a));
  // SHA-256, in the form people and tools recognise (FIPS 180-2's test vectors).
  CHECK(content_hash("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(content_hash("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(content_hash(a).size() == 7 + 64);
  std::string b = a;
  b[b.size() - 2] = '}';
  CHECK(content_hash(a) != content_hash(b));
  CHECK(content_hash(a) != content_hash(a + " "));
  CHECK(content_hash("") != content_hash(std::string(1, '\0')));
  CHECK(relengine::load::validator_id().find(RELENGINE_VERSION) != std::string::npos);
}

TEST_CASE("structure_known_valid skips only the structural checks: semantic errors are still found") {
  std::string text =
      "version: 1\nname: t\nphases:\n  - id: p\n    steps:\n      - id: a\n        run: x\n        needs: [nope]\n";
  relengine::load::LoadOptions trusted;
  trusted.structure_known_valid = true;
  auto r = relengine::load::load_text("p.yaml", text, trusted);
  CHECK_FALSE(r.playbook);
  CHECK(r.diags.has_errors());
}

TEST_CASE("a message quoting control characters of the input stays one line") {
  load::Diagnostic d{"p.yaml", {3, 5}, load::Severity::Error, "unknown key 'a\nb\tc\rd\x01'"};
  CHECK(load::format(d) == "p.yaml:3:5: error: unknown key 'a\\nb\\tc\\rd\\x01'");
  CHECK(load::escape_control("plain ünï") == "plain ünï");
}

TEST_CASE("a key that is not text, or empty, is reported at the key (the schema check cannot see it)") {
  auto r = load::load_text("p.yaml",
                           "version: 1\nname: n\nphases:\n  - id: p\n    steps:\n      - id: a\n        run: x\n"
                           "        idempotent: true\n        [x, y]: 1\n      - id: b\n        run: x\n"
                           "        idempotent: true\n        {k: v}: 1\n        : 2\n");
  std::vector<std::string> got;
  for (const auto& d : r.diags.sorted()) got.push_back(load::format(d));
  REQUIRE(got.size() == 3);
  CHECK(got[0] == "p.yaml:9:9: error: a key must be text, not a list");
  CHECK(got[1] == "p.yaml:13:9: error: a key must be text, not a map");
  CHECK(got[2].rfind("p.yaml:14:9: error: a key is empty", 0) == 0);
}

// The YAML test suite (tests/yaml-test-suite) through the loader in-process, as `validate` loads
// it (e2e/corpus_test.cc runs the binary; this one is cheap enough for the sanitizer build): no
// case is a playbook, and every problem is one positioned line.
TEST_CASE("the loader over the YAML test suite: an error for every case, each one positioned line") {
  std::size_t cases = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::filesystem::path(TESTS_DIR) / "yaml-test-suite" / "data")) {
    std::ifstream in(e.path() / "in.yaml", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    CAPTURE(e.path().filename().string());
    auto r = load::load_text("in.yaml", text);
    CHECK(!r.playbook);
    CHECK(r.diags.has_errors());
    for (const auto& d : r.diags.sorted()) {
      std::string line = load::format(d);
      CHECK_MESSAGE(line.find('\n') == std::string::npos, line);
      CHECK_MESSAGE(d.mark.line > 0, line);
      CHECK_MESSAGE(line.find("bad conversion") == std::string::npos, line);
      CHECK_MESSAGE(line.find("Target should") == std::string::npos, line);
    }
    ++cases;
  }
  CHECK(cases == 402);
}
