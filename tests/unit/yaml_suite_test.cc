// yaml.set over the YAML test suite (tests/yaml-test-suite, vendored from yaml/yaml-test-suite): for
// every leaf of every case whose input is one mapping, as an independent reader reads it (PyYAML,
// else ruamel.yaml: tests/yaml-test-suite/judge.py), several values are set. Each edit is either
// right — the reader reads the edited file as the original document with that one leaf changed to
// the string set, and setting it again changes nothing — or a clean refusal: one line, positioned,
// and no text to write. Never a wrong edit. The counts (edited / refused by reason) are those of
// docs/yaml-test-suite.md, which the test keeps true.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "exec/actions/yaml_edit.h"
#include "temp_dir.h"

using namespace relengine::exec::actions;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A yaml.set key path for a path of keys and indexes, or "" when its syntax cannot name one of the
// keys (a key holding both '"' and '.' or '[', or an empty key).
std::string key_path_of(const json& path) {
  std::string out;
  for (const auto& seg : path) {
    if (seg.is_number()) {
      out += "[" + std::to_string(seg.get<long>()) + "]";
      continue;
    }
    std::string key = seg.get<std::string>();
    bool needs_quotes = key.empty() || key.find_first_of(".[") != std::string::npos || key[0] == '"';
    if (needs_quotes && key.find('"') != std::string::npos) return "";
    if (!out.empty()) out += ".";
    out += needs_quotes ? "\"" + key + "\"" : key;
  }
  return out;
}

// The reason of a refusal, in a few words: its message without position and quoted text.
std::string reason_of(const std::string& error) {
  static const std::vector<std::pair<std::string, std::string>> reasons = {
      {"cannot parse the file", "the file does not parse to yaml-cpp"},
      {"used elsewhere through an alias", "an anchored value used through an alias"},
      {"has the anchor", "an anchor that YAML 1.1 reads otherwise"},
      {"block scalar", "a block scalar"},
      {"goes on over several lines", "a plain value over several lines"},
      {"in a flow collection", "empty in a flow collection or tagged"},
      {"no ':' of its own", "an explicit key with no value"},
      {"would change more", "the edit would change more"},
      {"would not parse", "the edited file would not parse"},
      {"cannot find the text", "the value's text not found"},
      {"no key", "the key is not there to yaml-cpp"},
      {"items, no", "the item is not there to yaml-cpp"},
  };
  for (const auto& [needle, reason] : reasons)
    if (error.find(needle) != std::string::npos) return reason;
  return "other: " + error;
}

}  // namespace

TEST_CASE(
    "yaml.set over the YAML test suite: every edit right (read back by PyYAML or ruamel.yaml) or refused cleanly") {
  if (std::system("/usr/bin/python3 -c 'import yaml' 2>/dev/null") != 0) {
    MESSAGE("SKIPPED: no python3-yaml (scripts/setup installs it)");
    return;
  }
  const fs::path suite = fs::path(TESTS_DIR) / "yaml-test-suite";
  const fs::path data = suite / "data";
  TempDirectory d;
  const std::string judge = "/usr/bin/python3 '" + (suite / "judge.py").string() + "' ";
  REQUIRE(std::system((judge + "paths '" + data.string() + "' '" + d / "paths.json" + "'").c_str()) == 0);
  const json cases = json::parse(slurp(d / "paths.json"));

  const std::vector<std::string> values = {"relengine-edit-1", "3.10", "yes", "a: b #c", "2001-12-14", "two\nlines"};
  const std::regex positioned("^line [0-9]+:[0-9]+: .+|^cannot parse the file: .*line [0-9]+, column [0-9]+.*");
  json edits = json::array();
  std::size_t unread = 0, mappings = 0, leaves = 0, unnamed = 0, attempts = 0, changed = 0;
  std::map<std::string, std::size_t> refused;
  for (const auto& [name, c] : cases.items()) {
    if (c["reader"].is_null()) {
      ++unread;
      continue;
    }
    ++mappings;
    const fs::path source = data / name / "in.yaml";
    const std::string text = slurp(source);
    for (const auto& path : c["paths"]) {
      ++leaves;
      const std::string key_path = key_path_of(path);
      if (key_path.empty()) {
        ++unnamed;
        continue;
      }
      for (const auto& value : values) {
        ++attempts;
        CAPTURE(name);
        CAPTURE(key_path);
        CAPTURE(value);
        YamlEdit edit = yaml_set_text(text, key_path, value);
        if (edit.kind == YamlEdit::Kind::Failed) {
          CHECK_MESSAGE(std::regex_match(edit.error, positioned), edit.error);
          CHECK(edit.error.find_first_of("\n\r\t") == std::string::npos);
          CHECK(edit.text.empty());
          ++refused[reason_of(edit.error)];
          continue;
        }
        const std::string written = edit.kind == YamlEdit::Kind::Changed ? edit.text : text;
        YamlEdit again = yaml_set_text(written, key_path, value);
        CHECK_MESSAGE(again.kind == YamlEdit::Kind::Unchanged, "a second run is not unchanged: " << again.error);
        if (edit.kind == YamlEdit::Kind::Changed) ++changed;
        edits.push_back({{"case", name},
                         {"reader", c["reader"]},
                         {"source", source.string()},
                         {"path", path},
                         {"value", value},
                         {"text", written}});
      }
    }
  }
  std::ofstream(d / "edits.json") << edits.dump();
  REQUIRE(std::system((judge + "check '" + d / "edits.json" + "' '" + d / "wrong.json" + "'").c_str()) == 0);
  const json wrong = json::parse(slurp(d / "wrong.json"));
  for (const auto& w : wrong) FAIL_CHECK("a wrong edit: " << w.get<std::string>());

  // The summary, as docs/yaml-test-suite.md gives it.
  std::ostringstream summary;
  std::size_t all = 0, not_yaml = 0;
  for (const auto& e : fs::directory_iterator(data)) {
    ++all;
    not_yaml += fs::exists(e.path() / "error") ? 1 : 0;
  }
  summary << "cases " << all << " (not YAML " << not_yaml << "), mappings " << mappings
          << " (and read by neither reader " << unread << "), leaves " << leaves << " (no key path for " << unnamed
          << "), edits " << attempts << ": edited right " << changed << ", already so " << edits.size() - changed
          << ", refused " << attempts - edits.size();
  for (const auto& [reason, n] : refused) summary << "; " << reason << " " << n;
  MESSAGE(summary.str());
  const std::string doc = slurp(fs::path(SOURCE_DIR) / "docs" / "yaml-test-suite.md");
  CHECK_MESSAGE(doc.find("`" + summary.str() + "`") != std::string::npos,
                "docs/yaml-test-suite.md does not give these counts; update it to:\n`" << summary.str() << "`");
  CHECK(changed > 0);
}
