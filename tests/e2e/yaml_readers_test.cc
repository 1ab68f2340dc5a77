// yaml.set's values read back as the string that was set by an independent YAML 1.1 reader
// (PyYAML, python3-yaml from Debian: the rules Kubernetes' and Helm's Go libraries still follow for
// booleans, numbers in other bases, sexagesimal numbers and dates), and with `type:` as the type
// asked for. Every value is set in three shapes of file: plain, quoted, and tagged `!!int` (which
// stays, making it a number, when the value is one that YAML 1.1 and 1.2 read alike).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "state_run.h"

using namespace e2e;
using json = nlohmann::json;

TEST_CASE("yaml.set: what it writes reads back as the string set in PyYAML (YAML 1.1), or as the type asked") {
  E2E_STORE_FREE();
  if (shell("/usr/bin/python3 -c 'import yaml'").code != 0) {
    MESSAGE("SKIPPED: no python3-yaml (scripts/setup installs it)");
    return;
  }
  const std::vector<std::string> values = {"3.10",
                                           "3.9",
                                           "yes",
                                           "No",
                                           "on",
                                           "OFF",
                                           "y",
                                           "n",
                                           "true",
                                           "False",
                                           "null",
                                           "~",
                                           "",
                                           "0777",
                                           "0b1",
                                           "0x1F",
                                           "1_000",
                                           "1:20",
                                           "2001-12-14",
                                           "2001-12-14 21:59:43.10 -5",
                                           ".inf",
                                           ".NaN",
                                           "<<",
                                           "=",
                                           "12",
                                           "-3",
                                           "1e3",
                                           "v1.2.3",
                                           "0.17.0",
                                           "main",
                                           "a: b",
                                           "x #y",
                                           "- item",
                                           "'q'",
                                           "\"dq\"",
                                           "tab\there",
                                           "multi\nline",
                                           "ünïcödé",
                                           "relengine-edit-1"};
  StateRun r;
  std::string steps;
  json expected = json::object();
  int n = 0;
  for (const auto& v : values) {
    for (const std::string shape : {"plain", "quoted", "tagged"}) {
      std::string file = "f" + std::to_string(n) + ".yaml";
      write(r.dir / file, shape == "plain"    ? "k: 1 # keep\nother: x\n"
                          : shape == "quoted" ? "k: \"old\"\nother: x\n"
                                              : "k: !!int 42\nother: x\n");
      steps += "      - id: s" + std::to_string(n) +
               "\n        uses: yaml.set\n        with:\n          file: " + file +
               "\n          key: k\n          value: " + json(v).dump() + "\n";
      expected[file] = shape == "tagged" ? json({{"tagged", v}}) : json(v);
      ++n;
    }
  }
  // With type: the values a user wants plain.
  const std::vector<std::tuple<std::string, std::string, json>> typed = {{"int", "3", 3},
                                                                         {"float", "3.10", 3.1},
                                                                         {"bool", "true", true},
                                                                         {"null", "null", nullptr},
                                                                         {"timestamp", "2025-11-24", "2025-11-24"}};
  for (const auto& [type, v, as] : typed) {
    std::string file = "t" + std::to_string(n++) + ".yaml";
    write(r.dir / file, "k: x\n");
    steps += "      - id: s" + std::to_string(n) + "\n        uses: yaml.set\n        with: {file: " + file +
             ", key: k, value: " + json(v).dump() + ", type: \"" + type + "\"}\n";
    expected[file] = {{"typed", as}};
  }
  write(r.dir / "p.yaml", "version: 1\nname: readers\nphases:\n  - id: one\n    steps:\n" + steps);
  Result run = r({"run", "p.yaml", "-j", "2"});
  REQUIRE_MESSAGE(run.code == 0, run.out << run.err);
  write(r.dir / "expected.json", expected.dump());
  // PyYAML reads every file; dates come back as dates, shown as their ISO text.
  write(r.dir / "read.py", R"PY(import datetime, json, re, sys, yaml
expected = json.load(open("expected.json"))
bad = []
for f, want in sorted(expected.items()):
    doc = yaml.safe_load(open(f, encoding="utf-8"))
    got = doc["k"]
    if isinstance(want, dict) and "tagged" in want:
        # !!int stays when the value is one (and means the same number to YAML 1.1 and 1.2); else it goes
        want = want["tagged"]
        if re.fullmatch(r"[-+]?(0|[1-9][0-9]*|0x[0-9a-fA-F]+)", want):
            want = int(want, 0)
        ok = got == want and type(got) == type(want)
    elif isinstance(want, dict):
        want = want["typed"]
        if isinstance(got, datetime.date):
            got = got.isoformat()
        ok = got == want and type(got) == type(want)
    else:
        ok = isinstance(got, str) and got == want
    if not ok:
        bad.append("%s: want %r, PyYAML reads %r from %r" % (f, want, got, open(f, encoding="utf-8").read()))
print("\n".join(bad))
sys.exit(1 if bad else 0)
)PY");
  Result read = shell("cd " + quote(r.dir.path().string()) + " && /usr/bin/python3 read.py");
  CHECK_MESSAGE(read.code == 0, read.out << read.err);
  // Running it again changes nothing: every step unchanged.
  Result again = r({"run", "p.yaml", "-j", "2"});
  REQUIRE(again.code == 0);
  json all = r.status();  // kept: a range over a temporary's member would dangle
  REQUIRE(all["steps"].size() == values.size() * 3 + typed.size());
  for (const auto& s : all["steps"]) {
    CAPTURE(s["id"]);
    CHECK(s["status"] == "skipped");
    CHECK(s["reason"] == "unchanged");
  }
}
