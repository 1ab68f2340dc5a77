// yaml.set conformance: every folder under tests/yaml_set/ holds input.yaml, key, value and
// either expected.yaml (the exact bytes after the edit) or error (a fragment of the message).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "exec/actions/yaml_edit.h"
#include "temp_dir.h"

using namespace relengine::exec::actions;
namespace fs = std::filesystem;

namespace {

// Lines that differ between two texts (same line count assumed).
int changed_lines(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i)
      if (i == s.size() || s[i] == '\n') out.push_back(s.substr(start, i - start)), start = i + 1;
    return out;
  };
  auto la = split(a), lb = split(b);
  if (la.size() != lb.size()) return -1;
  int n = 0;
  for (std::size_t i = 0; i < la.size(); ++i) n += la[i] != lb[i];
  return n;
}

}  // namespace

TEST_CASE("yaml.set conformance table") {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(fs::path(TESTS_DIR) / "yaml_set"))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  REQUIRE(dirs.size() >= 25);
  for (const auto& d : dirs) {
    CAPTURE(d.filename().string());
    std::string input = slurp(d / "input.yaml");
    WriteAs as = WriteAs::String;  // a `type` file: yaml.set's type option
    if (fs::exists(d / "type")) REQUIRE(parse_write_as(slurp(d / "type"), as));
    auto r = yaml_set_text(input, slurp(d / "key"), slurp(d / "value"), std::nullopt, as);
    if (fs::exists(d / "expected.yaml")) {
      std::string expected = slurp(d / "expected.yaml");
      CAPTURE(r.error);
      CHECK(r.kind != YamlEdit::Kind::Failed);
      std::string got = r.kind == YamlEdit::Kind::Unchanged ? input : r.text;
      CHECK(got == expected);
      if (expected == input)
        CHECK(r.kind == YamlEdit::Kind::Unchanged);
      else
        CHECK(changed_lines(input, got) == 1);
    } else {
      CHECK(r.kind == YamlEdit::Kind::Failed);
      CHECK(r.error.find(slurp(d / "error")) != std::string::npos);
    }
  }
}

TEST_CASE("key paths") {
  std::vector<KeySegment> segs;
  std::string err;
  REQUIRE(parse_key_path("images[name=cloud-api-adaptor].newTag", segs, err));
  REQUIRE(segs.size() == 3);
  CHECK(segs[1].kind == KeySegment::Kind::Select);
  CHECK(segs[1].value == "cloud-api-adaptor");
  REQUIRE(parse_key_path("a[0][1].\"x.y\"", segs, err));
  CHECK(segs.size() == 4);
  CHECK(segs[3].key == "x.y");
  CHECK(!parse_key_path("", segs, err));
  CHECK(!parse_key_path("a.", segs, err));
  CHECK(!parse_key_path("a[", segs, err));
  CHECK(!parse_key_path("a[x]", segs, err));
  CHECK(!parse_key_path("\"open", segs, err));
}

// The peer pods versions.yaml shape: top-level cloudimg, tools, git, oci; comment lines
// between sections; trailing comments; a quoted tag that must stay a string.
const char* kVersions = R"(---
# Sources for a base cloud os images
cloudimg:
  ubuntu:
    noble:
      amd64:
        url: https://cloud-images.ubuntu.com/releases/noble/x.img
        checksum: "sha256:28d2f9df"
tools:
  golang: 1.25.7
  helm:
    version: v4.0.4
# Referenced Git repositories
git:
  coco-operator:
    url: https://github.com/confidential-containers/operator
    reference: main
    config: default
  kata-containers:
    url: https://github.com/kata-containers/kata-containers
    reference: 3.24.0
  kbs:
    url: https://github.com/confidential-containers/trustee
    reference: f342a12115c67ea3af769fcd57e450f569ff7377
# If a tag is given it will attempt to pull the oci image by tag. if a
# reference is specified the corresponding tag will be constructed using
# the reference and suffixes like architecture or tee.
oci:
  pause:
    registry: registry.k8s.io/pause
    tag: "3.9"
  kata-containers:
    registry: ghcr.io/kata-containers/cached-artefacts
    reference: 17472f3f10c83a8626ea2bde8c4d4868f6ee95b4 # v3.25.0
  guest-components:
    registry: ghcr.io/confidential-containers/guest-components
    reference: 5574c4945a5ba4523c7b3a5ff1c53ace58d12b77
)";

TEST_CASE("the peer pods versions.yaml: each key the release touches is a one-line edit") {
  struct Edit {
    const char* key;
    const char* value;
    const char* line;
  };
  const Edit edits[] = {
      {"oci.guest-components.reference", "aaaa", "    reference: aaaa"},
      {"git.kbs.reference", "bbbb", "    reference: bbbb"},
      {"oci.kata-containers.reference", "cccc", "    reference: cccc # v3.25.0"},
      {"git.kata-containers.reference", "3.26.0", "    reference: 3.26.0"},
      {"git.coco-operator.reference", "v0.17.0", "    reference: v0.17.0"},
      {"git.coco-operator.config", "release", "    config: release"},
      {"oci.pause.tag", "3.10", "    tag: \"3.10\""},
  };
  for (const auto& e : edits) {
    CAPTURE(e.key);
    auto r = yaml_set_text(kVersions, e.key, e.value);
    REQUIRE(r.kind == YamlEdit::Kind::Changed);
    CHECK(changed_lines(kVersions, r.text) == 1);
    CHECK(r.text.find(std::string("\n") + e.line + "\n") != std::string::npos);
  }
  // And back: pin then restore gives the original bytes.
  auto pinned = yaml_set_text(kVersions, "git.coco-operator.reference", "v0.17.0");
  auto restored = yaml_set_text(pinned.text, "git.coco-operator.reference", "main");
  CHECK(restored.text == kVersions);
}

TEST_CASE("the real files in ../shared/fixtures, when present, edit in one line") {
  fs::path fixtures = fs::path(TESTS_DIR) / ".." / ".." / "shared" / "fixtures" / "cloud-api-adaptor";
  if (!fs::exists(fixtures)) return;
  struct Case {
    const char* file;
    const char* key;
  };
  const Case cases[] = {
      {"versions-v0.18.0.yaml", "git.kbs.reference"},
      {"versions-v0.18.0.yaml", "oci.kata-containers.reference"},
      {"versions-v0.18.0.yaml", "git.coco-operator.reference"},
      {"versions-v0.10.0.yaml", "git.kata-containers.reference"},
      {"kustomization.yaml", "images[name=cloud-api-adaptor].newTag"},
      {"kustomization-docker-v0.18.0-pinned.yaml", "images[name=cloud-api-adaptor].newTag"},
      {"kustomization-libvirt-v0.18.0-pinned.yaml", "images[name=cloud-api-adaptor].newTag"},
      {"CITATION-v0.17.0.cff", "version"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    CAPTURE(c.key);
    std::string text = slurp(fixtures / c.file);
    auto r = yaml_set_text(text, c.key, "0123456789abcdef");
    REQUIRE(r.kind == YamlEdit::Kind::Changed);
    CHECK(changed_lines(text, r.text) == 1);
    if (std::string(c.key).find("newTag") != std::string::npos)
      CHECK(r.text.find("# change image if needed") != std::string::npos);
  }
}

TEST_CASE("yaml.get: values, absent paths, and what is an error even when optional") {
  const std::string text =
      "git:\n  coco-operator:\n    reference: main # pinned at release\n    config: default\n"
      "images:\n- name: cloud-api-adaptor\n  newTag: latest\n- name: other\n  newTag: '1.0'\n"
      "- name: other\n  newTag: '2.0'\nlist: [a, b]\nempty:\n";
  auto r = yaml_get_text(text, "git.coco-operator.reference");
  CHECK(r.kind == YamlRead::Kind::Found);
  CHECK(r.value == "main");  // the comment is not the value
  CHECK(yaml_get_text(text, "images[name=cloud-api-adaptor].newTag").value == "latest");
  CHECK(yaml_get_text(text, "images[0].name").value == "cloud-api-adaptor");
  auto list = yaml_get_text(text, "list");
  CHECK(list.value == "[\"a\",\"b\"]");
  CHECK(!list.scalar);
  CHECK(yaml_get_text(text, "empty").value.empty());
  for (const char* absent : {"git.kata-containers.reference", "images[name=nope].newTag", "images[9].newTag"}) {
    CAPTURE(absent);
    CHECK(yaml_get_text(text, absent).kind == YamlRead::Kind::Absent);
  }
  auto ambiguous = yaml_get_text(text, "images[name=other].newTag");
  CHECK(ambiguous.kind == YamlRead::Kind::Failed);
  CHECK(ambiguous.error.find("2 items") != std::string::npos);
  CHECK(yaml_get_text(text, "git.coco-operator.reference.x").kind == YamlRead::Kind::Failed);  // through a scalar
  CHECK(yaml_get_text("a: [", "a").kind == YamlRead::Kind::Failed);
  CHECK(yaml_get_text(text, "git..x").kind == YamlRead::Kind::Failed);
}

TEST_CASE("yaml.get reads what the old awk misread: coco-operator as the last entry under git") {
  // The awk of record-operator-pin was not reset at the next top-level key, so it read the
  // `reference:` of whatever came after coco-operator.
  const std::string text =
      "git:\n  kbs:\n    reference: abc\n  coco-operator:\n    url: u\n    config: default\n"
      "    reference: main\noci:\n  kata-containers:\n    reference: 3.23.0\n";
  CHECK(yaml_get_text(text, "git.coco-operator.reference").value == "main");
  CHECK(yaml_get_text(text, "git.coco-operator.config").value == "default");
}

TEST_CASE("yaml.set comment: kept by default, set, replaced or removed — refused where the line holds more") {
  const std::string text =
      "oci:\n  kata-containers:\n    reference: 3.23.0\n  other:\n    reference: abc # v1.0.0\n"
      "flow: {a: 1, b: 2}\n";
  auto set = yaml_set_text(text, "oci.kata-containers.reference", "17472f3f", std::string("v3.25.0"));
  REQUIRE(set.kind == YamlEdit::Kind::Changed);
  CHECK(set.text.find("    reference: 17472f3f # v3.25.0\n  other:") != std::string::npos);
  auto replaced = yaml_set_text(text, "oci.other.reference", "def", std::string("v2.0.0"));
  CHECK(replaced.text.find("    reference: def # v2.0.0\n") != std::string::npos);
  auto kept = yaml_set_text(text, "oci.other.reference", "def");
  CHECK(kept.text.find("    reference: def # v1.0.0\n") != std::string::npos);
  auto removed = yaml_set_text(text, "oci.other.reference", "3.24.0", std::string());
  CHECK(removed.text.find("    reference: 3.24.0\nflow:") != std::string::npos);
  // Only the comment differs: still an edit; both the same: unchanged.
  auto comment_only = yaml_set_text(text, "oci.other.reference", "abc", std::string("v1.0.1"));
  CHECK(comment_only.kind == YamlEdit::Kind::Changed);
  CHECK(comment_only.text.find("    reference: abc # v1.0.1\n") != std::string::npos);
  CHECK(yaml_set_text(text, "oci.other.reference", "abc", std::string("v1.0.0")).kind == YamlEdit::Kind::Unchanged);
  CHECK(yaml_set_text(text, "oci.kata-containers.reference", "3.23.0", std::string()).kind ==
        YamlEdit::Kind::Unchanged);
  auto flow = yaml_set_text(text, "flow.a", "3", std::string("x"));
  CHECK(flow.kind == YamlEdit::Kind::Failed);
  CHECK(flow.error.find("more than a comment") != std::string::npos);
  CHECK(yaml_set_text(text, "flow.a", "3").kind == YamlEdit::Kind::Changed);  // without a comment it is fine
  CHECK(yaml_set_text(text, "oci.other.reference", "x", std::string("two\nlines")).kind == YamlEdit::Kind::Failed);
}

TEST_CASE("yaml.set refusals say where, what stands in the way, and what to do, on one line") {
  auto r = yaml_set_text("a: b\n  c\nz: 1\n", "a", "x");
  CHECK(r.kind == YamlEdit::Kind::Failed);
  CHECK(r.error ==
        "line 1:4: 'a' is a plain value that goes on over several lines; relengine rewrites values that are on one "
        "line: put it on one line (or quote it) first, or use file.replace");
  r = yaml_set_text("a: |\n  text\n", "a", "x");
  CHECK(r.error == "line 1:4: 'a' is a block scalar (| or >); relengine does not rewrite those: use file.replace");
  r = yaml_set_text("m:\n  k: 1\n", "m", "x");
  CHECK(r.error == "line 2:3: 'm' is a map, not a single value; set one of its keys (e.g. 'm.KEY')");
  // A key with a newline or an escape in it is quoted with them escaped: the message stays one line.
  r = yaml_set_text("a: 1\n", "\"x\ny\x1b\"", "2");
  CHECK(r.kind == YamlEdit::Kind::Failed);
  CHECK(r.error.find('\n') == std::string::npos);
  CHECK(r.error.find('\x1b') == std::string::npos);
  // type: a value that is not one is refused before anything is looked at.
  r = yaml_set_text("n: 1\n", "n", "v2", std::nullopt, WriteAs::Int);
  CHECK(r.error == "type: int: 'v2' is not one (YAML 1.2 core schema)");
}

TEST_CASE("resolves_as_non_string: what a YAML 1.2 or 1.1 reader would not read back as the string") {
  for (const char* typed : {"1",     "-2",   "3.10",         "1e3",        ".inf",
                            ".NaN",  "true", "False",        "null",       "~",
                            "",      "yes",  "No",           "on",         "OFF",
                            "y",     "n",    "0777",         "0b101",      "0x1F",
                            "1_000", "1:20", "190:20:30.15", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
                            "<<",    "="}) {
    CAPTURE(typed);
    CHECK(resolves_as_non_string(typed));
  }
  for (const char* text : {"v1.2.3", "3.25.0", "0.17.0", "abc", "yes-please", "1.2.3-rc1", "a5f4924822", "2001-12",
                           "ghcr.io/x:1.0", "main"}) {
    CAPTURE(text);
    CHECK(!resolves_as_non_string(text));
  }
}
