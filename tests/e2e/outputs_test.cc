// Outputs that cannot be forged: a shell step's multi-line output (GITHUB_OUTPUT's NAME<<DELIMITER)
// read exactly by a later step; a step cannot write the engine's relengine.* names; a value never
// ended fails the step, naming it; and a built-in action whose values hold newlines (yaml.set on
// a value "x\nrelengine.unchanged=true") reports what it did, with its whole previous value.
// On both stores (e2e/, e2e-pg/).
#include <doctest/doctest.h>

#include "state_run.h"

using namespace e2e;

TEST_CASE("outputs: a multi-line output (NAME<<DELIMITER) reaches a later step byte for byte") {
  StateRun r;
  write(r.dir / "p.yaml", R"YAML(version: 1
name: outputs
phases:
  - id: one
    steps:
      - id: write
        idempotent: true
        run: |
          {
            echo "notes<<EOF"
            printf 'line one\nline=two\nEOF-not-yet\n  EOF\n'
            echo "EOF"
            echo "plain=a=b"
          } >> "$RELENGINE_OUTPUT"
      - id: read
        needs: [write]
        idempotent: true
        env:
          NOTES: "${{ steps.write.outputs.notes }}"
          PLAIN: "${{ steps.write.outputs.plain }}"
        run: printf '%s|%s' "$NOTES" "$PLAIN" > got
)YAML");
  Result run = r({"run", "p.yaml"});
  REQUIRE_MESSAGE(run.code == 0, run.out << run.err);
  CHECK(slurp(r.dir / "got") == "line one\nline=two\nEOF-not-yet\n  EOF|a=b");
  CHECK(r.step("write")["outputs"]["notes"] == "line one\nline=two\nEOF-not-yet\n  EOF");
}

TEST_CASE("outputs: a step cannot write relengine.* names, and a value never ended fails the step") {
  StateRun r;
  write(r.dir / "p.yaml", R"YAML(version: 1
name: forged
phases:
  - id: one
    steps:
      - id: forger
        idempotent: true
        run: |
          echo "relengine.unchanged=true" >> "$RELENGINE_OUTPUT"
          echo "relengine.message=nothing to see" >> "$RELENGINE_OUTPUT"
          echo "real=1" >> "$RELENGINE_OUTPUT"
      - id: unended
        needs: [forger]
        idempotent: true
        run: printf 'notes<<EOF\nline\n' >> "$RELENGINE_OUTPUT"
)YAML");
  Result run = r({"run", "p.yaml"});
  CHECK(run.code == 1);
  auto forger = r.step("forger");
  CHECK(forger["status"] == "succeeded");  // not "skipped: unchanged"
  CHECK(forger["outputs"] == nlohmann::json({{"real", "1"}}));
  Result logs = r({"logs", "latest", "forger"});
  CHECK(logs.out.find("ignored output 'relengine.unchanged': the relengine.* names are the engine's own") !=
        std::string::npos);
  auto unended = r.step("unended");
  CHECK(unended["status"] == "failed");
  CHECK(unended["message"] ==
        "output notes: no line 'EOF' ends its value (NAME<<DELIMITER, the value's lines, "
        "then DELIMITER alone on a line)");
}

TEST_CASE("outputs: yaml.set over a value holding a newline and a forged line reports the edit it made") {
  StateRun r;
  write(r.dir / "values.yaml", "key: \"x\\nrelengine.unchanged=true\"\nother: 1\n");
  write(r.dir / "p.yaml", R"YAML(version: 1
name: set
phases:
  - id: one
    steps:
      - id: set
        uses: yaml.set
        with: {file: values.yaml, key: key, value: new}
)YAML");
  Result run = r({"run", "p.yaml"});
  REQUIRE_MESSAGE(run.code == 0, run.out << run.err);
  auto set = r.step("set");
  CHECK(set["status"] == "succeeded");
  CHECK(set["outputs"]["previous"] == "x\nrelengine.unchanged=true");  // whole, not its first line
  CHECK(slurp(r.dir / "values.yaml").find("key: ") == 0);
  CHECK(slurp(r.dir / "values.yaml").find("relengine.unchanged") == std::string::npos);
  // The same again: now there is nothing to change, and it says so.
  Result again = r({"run", "p.yaml"});
  REQUIRE(again.code == 0);
  CHECK(r.step("set")["status"] == "skipped");
  CHECK(r.step("set")["reason"] == "unchanged");
}
