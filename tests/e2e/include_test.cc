// End to end: libraries of steps (`include:`): expansion, inputs through `with`, a library's own
// step references, nested includes, `needs: [INCLUDE]`, errors positioned in the library, and
// fingerprints that cover what a library brings.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "state_run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

using Run = StateRun;

const char* kGreet = R"YAML(version: 1
kind: steps
description: Say hello to someone, then check what was said
inputs:
  who: {required: true}
  greeting: {default: hello}
steps:
  - id: say
    idempotent: true
    run: echo "${{ inputs.greeting }} ${{ inputs.who }}" >> ledger && echo "said=${{ inputs.who }}" >> "$RELENGINE_OUTPUT"
  - id: check
    idempotent: true
    run: test "${{ steps.say.outputs.said }}" = "${{ inputs.who }}"
)YAML";

}  // namespace

TEST_CASE("include: a library's steps become ID-LOCAL, with their inputs from with, in the includer's scope") {
  Run run;
  write(run.dir / "lib" / "greet.yaml", kGreet);
  // A library that includes another: its inputs reach the inner one through its own with.
  write(run.dir / "lib" / "twice.yaml", R"YAML(version: 1
kind: steps
inputs:
  who: {required: true}
steps:
  - id: first
    include: greet.yaml
    with: {who: "${{ inputs.who }}"}
  - id: second
    include: greet.yaml
    with: {who: "${{ inputs.who }}-again", greeting: hi}
)YAML");
  write(run.dir / "p.yaml", R"YAML(version: 1
name: inc
inputs:
  name: {default: world}
defaults:
  env: {FROM_DEFAULTS: "${{ inputs.name }}"}
phases:
  - id: one
    steps:
      - id: find
        idempotent: true
        run: echo "name=${{ inputs.name }}" >> "$RELENGINE_OUTPUT"
      - id: greet
        include: lib/greet.yaml
        with:
          who: ${{ steps.find.outputs.name }}
      - id: both
        include: lib/twice.yaml
        needs: [find]
        with: {who: "${{ inputs.name }}"}
      - id: after
        needs: [greet, both]
        idempotent: true
        run: echo "after ${{ steps.greet-say.outputs.said }} $FROM_DEFAULTS" >> ledger
)YAML");
  Result v = run({"validate", "p.yaml"});
  CAPTURE(v.err);
  REQUIRE(v.code == 0);
  Result plan = run({"plan", "p.yaml", "--json"});
  REQUIRE(plan.code == 0);
  std::vector<std::string> ids;
  std::map<std::string, json> by_id;
  json planned = json::parse(plan.out);
  for (const auto& s : planned["steps"]) ids.push_back(s["id"]), by_id[s["id"].get<std::string>()] = s;
  for (std::string id :
       {"greet-say", "greet-check", "both-first-say", "both-first-check", "both-second-say", "both-second-check"})
    CHECK_MESSAGE(by_id.count(id), id);
  CHECK(by_id["greet-say"]["needs"] == json::array({"find"}));       // the step before the include
  CHECK(by_id["both-first-say"]["needs"] == json::array({"find"}));  // the include entry's needs
  CHECK(by_id["both-second-say"]["needs"] == json::array({"both-first-check"}));
  CHECK(by_id["after"]["needs"].size() == 6);  // every step of both includes
  CHECK(by_id["both-second-say"]["action"]["script"].get<std::string>().find("echo \"hi world-again\"") == 0);

  Result r = run({"run", "p.yaml"});
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  auto ledger = slurp(run.dir / "ledger");
  CHECK(ledger.find("hello world\n") != std::string::npos);
  CHECK(ledger.find("hi world-again\n") != std::string::npos);
  CHECK(ledger.find("after world world\n") != std::string::npos);  // defaults.env in the includer's scope
  CHECK(run.step("greet-say")["outputs"]["said"] == "world");
  CHECK(run.step("both-second-check")["status"] == "succeeded");

  // A library's content is covered by the fingerprints: edited, its steps run again on resume.
  std::string lib = kGreet;
  lib.replace(lib.find("echo \"${{ inputs.greeting }}"), 6, "echo \"+");
  write(run.dir / "lib" / "greet.yaml", lib);
  r = run({"resume"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(r.out.find("run  greet-say (changed since it ran)") != std::string::npos);
  CHECK(r.out.find("run  find (") == std::string::npos);  // the playbook's own step did not change
}

TEST_CASE("include: problems are reported where they are, in the library or at the include entry") {
  Run run;
  write(run.dir / "lib" / "bad.yaml", R"YAML(version: 1
kind: steps
inputs:
  who: {required: true}
steps:
  - id: say
    idempotent: true
    run: echo "${{ inputs.whoo }}"
  - id: next
    nedds: [say]
    idempotent: true
    run: "true"
)YAML");
  write(run.dir / "lib" / "greet.yaml", kGreet);
  write(run.dir / "lib" / "loop.yaml", "version: 1\nkind: steps\nsteps:\n  - id: again\n    include: loop.yaml\n");
  write(run.dir / "p.yaml", R"YAML(version: 1
name: inc
phases:
  - id: one
    steps:
      - id: a
        include: lib/bad.yaml
        with: {who: x}
      - id: b
        include: lib/greet.yaml
        with: {whom: x}
      - id: c
        include: lib/missing.yaml
      - id: d
        include: lib/loop.yaml
      - id: e
        include: p.yaml
)YAML");
  Result r = run({"validate", "p.yaml"});
  CAPTURE(r.err);
  CHECK(r.code == 2);
  for (std::string expected : {"lib/bad.yaml:8:20: error: unknown input 'whoo' (declared: who)",
                               "lib/bad.yaml:10:5: error: unknown key 'nedds' (did you mean 'needs'?)",
                               "p.yaml:11:16: error: 'whom' is not an input of lib/greet.yaml (did you mean 'who'?)",
                               "p.yaml:9:13: error: include 'b': lib/greet.yaml requires input 'who': give it in with",
                               "p.yaml:13:18: error: cannot read the library lib/missing.yaml",
                               "lib/loop.yaml:5:14: error: include cycle:", "p.yaml:17:18: error: include cycle:"})
    CHECK_MESSAGE(r.err.find(expected) != std::string::npos, expected);
  CHECK(!fs::exists(run.dir / "state"));  // nothing written
}

TEST_CASE("include: a value from with is still guarded in shell text") {
  Run run;
  write(run.dir / "lib" / "greet.yaml", kGreet);
  write(run.dir / "p.yaml",
        "version: 1\nname: inc\nphases:\n  - id: one\n    steps:\n      - id: g\n"
        "        include: lib/greet.yaml\n        with: {who: \"a b; rm -rf ~\"}\n");
  Result r = run({"run", "p.yaml"});
  CAPTURE(r.err);
  CHECK(r.code == 2);
  CHECK(r.err.find("lib/greet.yaml:10:") != std::string::npos);
  CHECK(r.err.find("not safe in shell text") != std::string::npos);
  CHECK(!fs::exists(run.dir / "ledger"));
}
