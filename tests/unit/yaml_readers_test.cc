// yaml.set's values read back as the string that was set by an independent YAML 1.1 reader
// (PyYAML, python3-yaml from Debian: the rules Kubernetes' and Helm's Go libraries still follow for
// booleans, numbers in other bases, sexagesimal numbers and dates), and with a type as that type.
// Every value is set in three shapes of file: plain, quoted, and tagged `!!int` (which stays,
// making it a number, when the value is one that YAML 1.1 and 1.2 read alike); setting it again
// changes nothing.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "exec/actions/yaml_edit.h"
#include "temp_dir.h"

using namespace relengine::exec::actions;
using json = nlohmann::json;

TEST_CASE("yaml.set: what it writes reads back as the string set in PyYAML (YAML 1.1), or as the type asked") {
  if (std::system("/usr/bin/python3 -c 'import yaml' 2>/dev/null") != 0) {
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
                                           "relengine-edit-1",
                                           "@x"};
  TempDirectory d;
  json expected = json::object();
  int n = 0;
  auto set = [&](const std::string& before, const std::string& value, WriteAs as, const json& want) {
    std::string file = "f" + std::to_string(n++) + ".yaml";
    auto edit = yaml_set_text(before, "k", value, std::nullopt, as);
    CAPTURE(before);
    CAPTURE(value);
    REQUIRE_MESSAGE(edit.kind == YamlEdit::Kind::Changed, edit.error);
    CHECK(yaml_set_text(edit.text, "k", value, std::nullopt, as).kind == YamlEdit::Kind::Unchanged);
    std::ofstream(d / file, std::ios::binary) << edit.text;
    expected[file] = want;
  };
  for (const auto& v : values) {
    set("k: 1 # keep\nother: x\n", v, WriteAs::String, v);
    set("k: \"old\"\nother: x\n", v, WriteAs::String, v);
    set("k: !!int 42\nother: x\n", v, WriteAs::String, json({{"tagged", v}}));
  }
  const std::vector<std::tuple<WriteAs, std::string, json>> typed = {{WriteAs::Int, "3", 3},
                                                                     {WriteAs::Float, "3.10", 3.1},
                                                                     {WriteAs::Bool, "true", true},
                                                                     {WriteAs::Null, "null", nullptr},
                                                                     {WriteAs::Timestamp, "2025-11-24", "2025-11-24"}};
  for (const auto& [as, v, want] : typed) set("k: x\n", v, as, json({{"typed", want}}));
  std::ofstream(d / "expected.json") << expected.dump();
  std::ofstream(d / "read.py") << R"PY(import datetime, json, re, sys, yaml
expected = json.load(open("expected.json"))
bad = []
for f, want in sorted(expected.items()):
    text = open(f, encoding="utf-8").read()
    got = yaml.safe_load(text)["k"]
    if isinstance(want, dict) and "tagged" in want:
        want = want["tagged"]
        if re.fullmatch(r"[-+]?(0|[1-9][0-9]*|0x[0-9a-fA-F]+)", want):
            want = int(want, 0)
    elif isinstance(want, dict):
        want = want["typed"]
        if isinstance(got, datetime.date):
            got = got.isoformat()
    if not (got == want and type(got) == type(want)):
        bad.append("%s: want %r, PyYAML reads %r from %r" % (f, want, got, text))
open("bad.txt", "w").write("\n".join(bad))
sys.exit(1 if bad else 0)
)PY";
  int rc = std::system(("cd '" + d.path.string() + "' && /usr/bin/python3 read.py").c_str());
  std::ifstream bad(d / "bad.txt");
  std::stringstream problems;
  problems << bad.rdbuf();
  CHECK_MESSAGE(rc == 0, problems.str());
  CHECK(expected.size() == values.size() * 3 + typed.size());
}
