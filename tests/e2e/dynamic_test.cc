// End to end: what a step reads from steps that did not run, for_each lists only known at run
// time (across resume and kill -9), yaml.get, file.replace's allow_no_match, retry delay 0s.
// Every test runs the real binary.
#include <doctest/doctest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "state_run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

using Run = StateRun;

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

TEST_CASE(
    "a phase whose if is false is not rendered: its steps are skipped, even those reading outputs of each other") {
  Run run;
  write(run.dir / "p.yaml", R"YAML(version: 1
name: skipped-phase
inputs:
  skip: {type: bool, default: true}
phases:
  - id: one
    if: ${{ !inputs.skip }}
    steps:
      - id: src
        idempotent: true
        run: echo "sha=abc" >> "$RELENGINE_OUTPUT"
      - id: use
        idempotent: true
        run: echo "${{ steps.src.outputs.sha }}" > used
  - id: two
    steps:
      - id: last
        idempotent: true
        run: touch last
)YAML");
  Result plan = run({"plan", "p.yaml"});
  CHECK(plan.code == 0);
  CHECK(plan.out.find("1 of 3 steps would run") != std::string::npos);
  CHECK(plan.out.find("src  (run)\n       skip: condition false (phase if: ${{ !inputs.skip }})") != std::string::npos);
  CHECK(plan.out.find("use  (run)\n       skip: condition false") != std::string::npos);

  Result r = run({"run", "p.yaml"});
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(run.step("src")["status"] == "skipped");
  CHECK(run.step("use")["status"] == "skipped");
  CHECK(run.step("use")["reason"] == "condition");
  CHECK(run.step("last")["status"] == "succeeded");
  CHECK(!fs::exists(run.dir / "used"));
  CHECK(fs::exists(run.dir / "last"));

  // The same on resume: the skipped steps are evaluated again, and skipped again.
  Result again = run({"resume", "--rerun", "src"});
  CHECK(again.code == 0);
  CHECK(run.step("use")["status"] == "skipped");

  // A step `if` that is false is not rendered either.
  write(run.dir / "q.yaml", R"YAML(version: 1
name: skipped-step
phases:
  - id: one
    steps:
      - id: src
        if: ${{ false }}
        idempotent: true
        run: echo "sha=abc" >> "$RELENGINE_OUTPUT"
      - id: use
        if: ${{ steps.src.status != 'skipped' }}
        idempotent: true
        run: echo "${{ steps.src.outputs.sha }}" > used
      - id: otherwise
        if: ${{ steps.src.status == 'skipped' }}
        idempotent: true
        run: touch otherwise
)YAML");
  r = run({"run", "q.yaml"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(run.step("use")["status"] == "skipped");
  CHECK(run.step("otherwise")["status"] == "succeeded");
  CHECK(fs::exists(run.dir / "otherwise"));
}

TEST_CASE("reading an output of a skipped step from a step that runs fails that step, naming both — resumable") {
  Run run;
  const std::string text = R"YAML(version: 1
name: read-skipped
phases:
  - id: one
    steps:
      - id: src
        if: ${{ false }}
        idempotent: true
        run: echo "sha=abc" >> "$RELENGINE_OUTPUT"
      - id: use
        idempotent: true
        run: echo "${{ steps.src.outputs.sha }}" > used
)YAML";
  write(run.dir / "p.yaml", text);
  Result r = run({"run", "p.yaml"});
  CAPTURE(r.out);
  CHECK(r.code == 1);  // a failed step, not an invalid playbook
  json use = run.step("use");
  CHECK(use["status"] == "failed");
  std::string message = use["message"];
  CAPTURE(message);
  CHECK(message.find("step 'use'") != std::string::npos);
  CHECK(message.find("step 'src' was skipped") != std::string::npos);
  CHECK(message.find("no output 'sha'") != std::string::npos);
  CHECK(r.out.find("relengine") != std::string::npos);
  CHECK(r.out.find(" resume ") != std::string::npos);

  // The fix: the reader gets its own condition. Resume finishes the run.
  std::string fixed = text;
  fixed.replace(fixed.find("      - id: use\n"), 16,
                "      - id: use\n        if: ${{ steps.src.status != 'skipped' }}\n");
  write(run.dir / "p.yaml", fixed);
  r = run({"resume"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(run.step("use")["status"] == "skipped");
}

TEST_CASE("dynamic for_each: the instances are expanded when the producer finishes, and shown as ID[*] until then") {
  Run run;
  write(run.dir / "p.yaml", R"YAML(version: 1
name: dynamic
phases:
  - id: one
    steps:
      - id: find
        idempotent: true
        run: echo 'list=["a","b","c"]' >> "$RELENGINE_OUTPUT"
      - id: fan
        for_each: ${{ fromJSON(steps.find.outputs.list) }}
        idempotent: true
        run: echo "${{ item }}" >> ledger && echo "v=${{ item }}" >> "$RELENGINE_OUTPUT"
      - id: after
        idempotent: true
        run: echo "${{ steps.fan[b].outputs.v }}" > after
)YAML");
  Result plan = run({"plan", "p.yaml"});
  CHECK(plan.code == 0);
  CHECK(plan.out.find("fan[*]") != std::string::npos);
  CHECK(plan.out.find("known at run time") != std::string::npos);
  Result dot = run({"graph", "p.yaml", "--format", "dot"});
  CHECK(dot.out.find("fan[*]") != std::string::npos);

  Result r = run({"run", "p.yaml"});
  CAPTURE(r.out);
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("fan[*]: expanded into 3: fan[a], fan[b], fan[c]") != std::string::npos);
  auto ids = run.ids();
  CHECK(has(ids, "fan[a]"));
  CHECK(has(ids, "fan[c]"));
  CHECK(!has(ids, "fan[*]"));
  CHECK(slurp(run.dir / "after") == "b\n");
  CHECK(lines(slurp(run.dir / "ledger")).size() == 3);
  // `after` (needs fan) ran after every instance.
  CHECK(run.step("after")["started"].get<std::string>() >= run.step("fan[c]")["finished"].get<std::string>());

  // The graph of the run shows the instances.
  Result g = run({"graph", "p.yaml", "--run", "latest", "--format", "dot"});
  CHECK(g.out.find("fan[b]") != std::string::npos);
  CHECK(g.out.find("fan[*]") == std::string::npos);
}

TEST_CASE(
    "dynamic for_each across kill -9 and resume: the recorded instances, each effect once — --rerun expands again") {
  Run run;
  write(run.dir / "items", "[\"a\",\"b\"]\n");
  write(run.dir / "p.yaml", R"YAML(version: 1
name: dynamic-crash
phases:
  - id: one
    steps:
      - id: find
        idempotent: true
        run: echo "list=$(cat items)" >> "$RELENGINE_OUTPUT"
      - id: fan
        for_each: ${{ fromJSON(steps.find.outputs.list) }}
        done_if: grep -qx "${{ item }}" ledger
        run: |
          if [ "${{ item }}" = b ]; then
            echo $$ > b.pid
            while [ ! -e go ]; do sleep 0.01; done
          fi
          echo "${{ item }}" >> ledger
)YAML");
  write(run.dir / "ledger", "");
  std::string log = (run.dir / "engine.log").string();
  int engine =
      start_child({RELENGINE_BIN, "--state-dir", run.state, "run", "p.yaml", "-j", "1"}, run.dir.path().string(), log);
  std::string b = wait_for_line(run.dir / "b.pid");
  REQUIRE(!b.empty());  // fan[b] is running: a was done before it
  ::kill(engine, SIGKILL);
  REQUIRE(wait_child(engine) == 128 + SIGKILL);
  // The killed engine's fan[b] must be gone (its supervisor kills it) before `go` exists, or it
  // could still see `go` and write its line after the resume's done_if has looked.
  REQUIRE(eventually([&] { return !alive(std::stoi(b)); }));
  // Whatever find would say now, the run expands as it did.
  write(run.dir / "items", "[\"a\",\"b\",\"c\"]\n");
  write(run.dir / "go", "");
  Result r = run({"resume"});
  CAPTURE(r.out);
  CAPTURE(slurp(log));
  REQUIRE(r.code == 0);
  CHECK(slurp(run.dir / "ledger") == "a\nb\n");
  auto ids = run.ids();
  CHECK(has(ids, "fan[a]"));
  CHECK(has(ids, "fan[b]"));
  CHECK(!has(ids, "fan[c]"));
  CHECK(!has(ids, "fan[*]"));
  CHECK(run.step("fan[a]")["status"] == "succeeded");

  // --rerun of the producer expands again from what it writes now.
  r = run({"resume", "--rerun", "find"});
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("drop fan[a] (its for_each is expanded again") != std::string::npos);
  ids = run.ids();
  CHECK(has(ids, "fan[c]"));
  CHECK(slurp(run.dir / "ledger") == "a\nb\nc\n");  // a and b were done: their done_if said so
  CHECK(run.step("fan[a]")["status"] == "skipped");
  CHECK(run.step("fan[a]")["reason"] == "done");
}

TEST_CASE("dynamic for_each: an empty list lets its dependents go on — a list that is not a list fails the step") {
  Run run;
  write(run.dir / "p.yaml", R"YAML(version: 1
name: dynamic-edge
inputs:
  list: {default: "[]"}
phases:
  - id: one
    steps:
      - id: find
        idempotent: true
        env: {LIST: "${{ inputs.list }}"}
        run: echo "list=$LIST" >> "$RELENGINE_OUTPUT"
      - id: fan
        for_each: ${{ fromJSON(steps.find.outputs.list) }}
        idempotent: true
        run: echo "${{ item }}" >> ledger
      - id: after
        idempotent: true
        run: touch after
)YAML");
  Result r = run({"run", "p.yaml"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(fs::exists(run.dir / "after"));
  CHECK(!fs::exists(run.dir / "ledger"));

  r = run({"run", "p.yaml", "--set", "list={\"a\": 1}"});
  CHECK(r.code == 1);
  std::string message = run.step("fan[*]")["message"];
  CAPTURE(message);
  CHECK(message.find("not a list") != std::string::npos);
  CHECK(run.step("after")["status"] == "cancelled");

  r = run({"run", "p.yaml", "--set", "list=[oops"});
  CHECK(r.code == 1);
  message = run.step("fan[*]")["message"];
  CAPTURE(message);
  CHECK(message.find("is not JSON") != std::string::npos);

  r = run({"run", "p.yaml", "--set", "list=[\"a\",\"a\"]"});
  CHECK(r.code == 1);
  message = run.step("fan[*]")["message"];
  CHECK(message.find("lists 'a' twice") != std::string::npos);
}

TEST_CASE("validate: a for_each that reads a step it does not run after is an error at the for_each") {
  TempDir dir;
  write(dir / "p.yaml", R"YAML(version: 1
name: order
phases:
  - id: one
    steps:
      - id: fan
        for_each: ${{ fromJSON(steps.find.outputs.list) }}
        idempotent: true
        run: echo "${{ item }}"
      - id: find
        idempotent: true
        run: echo 'list=["a"]' >> "$RELENGINE_OUTPUT"
)YAML");
  Result r = relengine({"validate", (dir / "p.yaml").string()});
  CHECK(r.code == 2);
  CAPTURE(r.err);
  CHECK(r.err.find("p.yaml:7:19: error: for_each of step 'fan' reads step 'find', which it does not run after") !=
        std::string::npos);
}

TEST_CASE("yaml.get reads a value, a missing key is an error (or '' when optional) — with files it selects by value") {
  Run run;
  write(run.dir / "versions.yaml",
        "git:\n  coco-operator:\n    url: https://example.invalid/op\n    reference: main  # follows main\n"
        "    config: default\n  kbs:\n    reference: abc\n");
  for (auto [name, image] : {std::pair{"aws", "quay.io/confidential-containers/cloud-api-adaptor"},
                             std::pair{"gcp", "192.168.122.1:5000/cloud-api-adaptor"},
                             std::pair{"alibabacloud", "registry.example/dev/coco-cloud-api-adaptor"}})
    write(run.dir / "overlays" / name / "kustomization.yaml",
          std::string("images:\n- name: cloud-api-adaptor\n  newName: ") + image +
              " # change image if needed\n  newTag: latest\n");
  write(run.dir / "overlays" / "empty" / "kustomization.yaml", "resources: []\n");
  write(run.dir / "p.yaml", R"YAML(version: 1
name: get
phases:
  - id: one
    steps:
      - id: ref
        uses: yaml.get
        with: {file: versions.yaml, key: git.coco-operator.reference}
      - id: absent
        uses: yaml.get
        with: {file: versions.yaml, key: git.kata-containers.reference, optional: true}
      - id: overlays
        uses: yaml.get
        with:
          files: [overlays/*/kustomization.yaml]
          key: images[name=cloud-api-adaptor].newName
          matches: (^|/)cloud-api-adaptor$
          optional: true
      - id: pin
        for_each: ${{ fromJSON(steps.overlays.outputs.dirs) }}
        uses: yaml.set
        with:
          file: overlays/${{ item }}/kustomization.yaml
          key: images[name=cloud-api-adaptor].newTag
          value: ${{ steps.ref.outputs.value }}-${{ steps.absent.outputs.found }}
)YAML");
  Result r = run({"run", "p.yaml"});
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(run.step("ref")["outputs"]["value"] == "main");
  CHECK(run.step("absent")["outputs"]["value"] == "");
  CHECK(run.step("absent")["outputs"]["found"] == "false");
  CHECK(run.step("overlays")["outputs"]["dirs"] == "[\"aws\",\"gcp\"]");
  CHECK(slurp(run.dir / "overlays/aws/kustomization.yaml").find("newTag: main-false\n") != std::string::npos);
  CHECK(slurp(run.dir / "overlays/gcp/kustomization.yaml").find("newTag: main-false\n") != std::string::npos);
  CHECK(slurp(run.dir / "overlays/alibabacloud/kustomization.yaml").find("newTag: latest\n") != std::string::npos);

  write(run.dir / "q.yaml", R"YAML(version: 1
name: get-missing
phases:
  - id: one
    steps:
      - id: missing
        uses: yaml.get
        with: {file: versions.yaml, key: git.kata-containers.reference}
)YAML");
  r = run({"run", "q.yaml"});
  CHECK(r.code == 1);
  std::string out = r.out;
  CAPTURE(out);
  CHECK(out.find("versions.yaml: no key 'kata-containers' in 'git' (add optional: true if it may be absent)") !=
        std::string::npos);
}

TEST_CASE("file.replace with allow_no_match: nothing to replace is skipped as unchanged, with the reason") {
  Run run;
  write(run.dir / "README.md", "Nothing versioned here.\n");
  const std::string base =
      "version: 1\nname: replace\nphases:\n  - id: one\n    steps:\n      - id: docs\n"
      "        uses: file.replace\n        with:\n          files: [README.md]\n"
      "          pattern: '0\\.16\\.0'\n          replacement: 0.17.0\n";
  write(run.dir / "strict.yaml", base);
  Result r = run({"run", "strict.yaml"});
  CHECK(r.code == 1);
  CHECK(r.out.find("allow_no_match") != std::string::npos);  // the failure says how to allow it
  write(run.dir / "lenient.yaml", base + "          allow_no_match: true\n");
  r = run({"run", "lenient.yaml"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  json docs = run.step("docs");
  CHECK(docs["status"] == "skipped");
  CHECK(docs["reason"] == "unchanged");
  CHECK(docs["message"].get<std::string>().find("nothing to replace") != std::string::npos);
  CHECK(slurp(run.dir / "README.md") == "Nothing versioned here.\n");
}

TEST_CASE("retry delay 0s is valid and retries at once") {
  Run run;
  write(run.dir / "p.yaml", R"YAML(version: 1
name: delay0
phases:
  - id: one
    steps:
      - id: flaky
        idempotent: true
        retry: {attempts: 3, delay: 0s}
        run: |
          n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count
          [ "$n" -ge 1 ]
)YAML");
  Result v = run({"validate", "p.yaml"});
  CAPTURE(v.err);
  CHECK(v.code == 0);
  Result r = run({"run", "p.yaml"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(run.step("flaky")["attempts"] == 2);
  CHECK(slurp(run.dir / "count") == "2\n");
}

TEST_CASE("resume: a step that runs again because it changed still comes before the pending steps after it") {
  Run run;
  // a -> b -> c; c fails the first time. Then a is edited: the resume runs a again and c again,
  // and c must wait for a even though b, between them, is done. (a waits a little for c's mark:
  // were c to start early, the ledger would show it first.)
  const std::string text = R"YAML(version: 1
name: order-on-resume
phases:
  - id: p
    steps:
      - id: a
        idempotent: true
        run: |
          for i in $(seq 100); do [ -e c-done ] && break; sleep 0.01; done
          echo a-VERSION >> ledger
      - id: b
        idempotent: true
        run: echo b >> ledger
      - id: c
        idempotent: true
        run: |
          [ -e fixed ] || exit 1
          touch c-done
          echo c >> ledger
)YAML";
  auto playbook = [&](const std::string& version) {
    std::string t = text;
    t.replace(t.find("VERSION"), 7, version);
    write(run.dir / "p.yaml", t);
  };
  playbook("1");
  Result r = run({"run", "p.yaml", "-j", "4"});
  REQUIRE(r.code == 1);
  CHECK(slurp(run.dir / "ledger") == "a-1\nb\n");
  playbook("2");
  write(run.dir / "fixed", "");
  r = run({"resume", "-j", "4"});
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("run  a (changed since it ran)") != std::string::npos);
  CHECK(slurp(run.dir / "ledger") == "a-1\nb\na-2\nc\n");  // b is done and not repeated; c after a
  // The ledger alone could miss a c started too early but slow to get going (a stops waiting for
  // c-done after a second and writes first anyway); the recorded times cannot: c started after a
  // finished.
  CHECK(run.step("c")["started"].get<std::string>() >= run.step("a")["finished"].get<std::string>());

  // And when the step that runs again fails, the pending step after it does not run.
  Run other;
  std::string failing = text;
  failing.replace(failing.find("echo a-VERSION >> ledger"), 24, "echo a >> ledger; [ ! -e broken ]");
  write(other.dir / "p.yaml", failing);
  r = other({"run", "p.yaml"});
  REQUIRE(r.code == 1);
  failing.replace(failing.find("[ ! -e broken ]"), 15, "[ ! -e broken ] # edited");
  write(other.dir / "p.yaml", failing);
  write(other.dir / "broken", "");
  write(other.dir / "fixed", "");
  r = other({"resume"});
  CHECK(r.code == 1);
  CHECK(other.step("a")["status"] == "failed");
  CHECK(other.step("c")["status"] == "cancelled");
  CHECK(!fs::exists(other.dir / "c-done"));
}
