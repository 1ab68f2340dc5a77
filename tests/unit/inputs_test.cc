#include <doctest/doctest.h>

#include "load/inputs.h"
#include "load/loader.h"

using namespace relengine;

namespace {

model::Playbook playbook() {
  auto r = load::load_text("p.yaml", R"(version: 1
name: demo
inputs:
  version: {required: true, pattern: '^v[0-9]+$'}
  count: {type: int, default: 3}
  dry: {type: bool, default: false}
  note: {}
  region: {env: TEST_REGION, default: eu}
  token: {secret: true, env: TEST_TOKEN, required: true}
vars:
  tag: ${{ inputs.version }}-${{ inputs.count }}
  list: [a, "${{ inputs.note }}"]
phases:
  - id: one
    steps: [{id: s, run: "true", idempotent: true}]
)");
  REQUIRE(r.playbook);
  return *r.playbook;
}

load::InputSources sources(std::vector<std::string> sets, std::map<std::string, std::string> env = {}) {
  load::InputSources s;
  s.sets = std::move(sets);
  s.env = [env](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return s;
}

std::vector<std::string> messages(const load::Diagnostics& d) {
  std::vector<std::string> out;
  for (const auto& x : d.sorted()) out.push_back(load::format(x));
  return out;
}

}  // namespace

TEST_CASE("values come from --set, then the environment, then defaults, converted to their types") {
  auto pb = playbook();
  load::Diagnostics diags;
  auto in = load::resolve_inputs(pb, sources({"version=v7", "count=12", "dry=yes"}, {{"TEST_TOKEN", "tok"}}), diags);
  REQUIRE(!diags.has_errors());
  CHECK(in.values["version"].str() == "v7");
  CHECK(in.values["count"].integer() == 12);
  CHECK(in.values["dry"].boolean() == true);
  CHECK(in.values["note"].str().empty());
  CHECK(in.values["region"].str() == "eu");
  CHECK(in.values["token"].str() == "tok");
  CHECK(in.secret_names.count("token"));
  auto pub = in.public_values();
  CHECK(!pub.count("token"));
  CHECK(pub["count"] == "12");

  in = load::resolve_inputs(pb, sources({"version=v1", "region=us"}, {{"TEST_TOKEN", "t"}, {"TEST_REGION", "ap"}}),
                            diags);
  CHECK(in.values["region"].str() == "us");  // --set wins over the environment
  in = load::resolve_inputs(pb, sources({"version=v1"}, {{"TEST_TOKEN", "t"}, {"TEST_REGION", "ap"}}), diags);
  CHECK(in.values["region"].str() == "ap");
  in = load::resolve_inputs(pb, sources({"version=v1", "version=v2"}, {{"TEST_TOKEN", "t"}}), diags);
  CHECK(in.values["version"].str() == "v2");  // the last --set wins
  CHECK(!diags.has_errors());
}

TEST_CASE("every input problem is reported at once — secrets are never echoed") {
  auto pb = playbook();
  load::Diagnostics diags;
  load::resolve_inputs(
      pb, sources({"version=7", "count=1.5", "dry=perhaps", "colour=red", "=x", "token=hunter2 spaces"}), diags);
  auto m = messages(diags);
  REQUIRE(m.size() == 5);
  CHECK(m[0] == "error: --set '=x' must be NAME=VALUE");
  CHECK(m[1] == "error: input 'count': '1.5' must be an integer (from --set)");
  CHECK(m[2] == "error: input 'dry': 'perhaps' must be true or false (from --set)");
  CHECK(m[3] == "error: input 'version': '7' does not match the pattern ^v[0-9]+$ (from --set)");
  CHECK(m[4] ==
        "error: unknown input 'colour' (--set); the playbook's inputs are: version, count, dry, note, region, token");

  load::Diagnostics missing;
  load::resolve_inputs(pb, sources({}), missing);
  auto mm = messages(missing);
  REQUIRE(mm.size() == 2);
  CHECK(mm[0] == "error: input 'token' is required: set the environment variable TEST_TOKEN");
  CHECK(mm[1] == "error: input 'version' is required: pass --set version=VALUE");
}

TEST_CASE("an int input beyond 64 bits is an error that says so, never a wrap") {
  auto pb = playbook();
  load::Diagnostics diags;
  auto in = load::resolve_inputs(
      pb, sources({"version=v1", "count=123456789012345678901234567890"}, {{"TEST_TOKEN", "tok"}}), diags);
  auto m = messages(diags);
  REQUIRE(m.size() == 1);
  CHECK(m[0] ==
        "error: input 'count': '123456789012345678901234567890' is out of range for an int "
        "(-9223372036854775808 to 9223372036854775807) (from --set)");
  load::Diagnostics edge;
  in = load::resolve_inputs(pb, sources({"version=v1", "count=-9223372036854775808"}, {{"TEST_TOKEN", "tok"}}), edge);
  CHECK(!edge.has_errors());
  CHECK(in.values["count"].integer() == INT64_MIN);
}

TEST_CASE("a secret that fails its checks is not shown") {
  auto r = load::load_text("p.yaml",
                           "version: 1\nname: d\ninputs:\n  t: {secret: true, env: T, type: int}\nphases:\n"
                           "  - id: one\n    steps: [{id: s, run: 'true', idempotent: true}]\n");
  REQUIRE(r.playbook);
  load::Diagnostics diags;
  load::resolve_inputs(*r.playbook, sources({}, {{"T", "sup3rs3cret"}}), diags);
  auto m = messages(diags);
  REQUIRE(m.size() == 1);
  CHECK(m[0].find("sup3rs3cret") == std::string::npos);
  CHECK(m[0] == "error: input 't': the value must be an integer (from $T)");
}

TEST_CASE("masking replaces every occurrence of a secret value") {
  load::InputValues in;
  in.secret_values = {"abcd", "wxyz"};
  CHECK(in.mask("abcd and wxyzabcd, abc") == "*** and ******, abc");
  CHECK(in.mask("") == "");
  load::InputValues none;
  CHECK(none.mask("abcd") == "abcd");
}

TEST_CASE("masking a multi-line secret: the whole value, and each of its lines wherever it is printed") {
  load::InputValues in;
  in.secret_values = {"-----BEGIN KEY-----\nMIIEpAIBAAKCAQEA\n-----END KEY-----"};
  CHECK(in.mask("key: -----BEGIN KEY-----\nMIIEpAIBAAKCAQEA\n-----END KEY-----\n") == "key: ***\n");
  // Re-indented, with other line endings, or one line at a time: every line is masked on its own.
  CHECK(in.mask("  -----BEGIN KEY-----\r\n  MIIEpAIBAAKCAQEA\r\n  -----END KEY-----") == "  ***\r\n  ***\r\n  ***");
  CHECK(in.mask("data MIIEpAIBAAKCAQEA end") == "data *** end");
}

TEST_CASE("masking: the longest secret wins, overlapping occurrences leave nothing of either in clear") {
  load::InputValues in;
  in.secret_values = {"abcd", "abcdefgh"};  // a prefix of another secret, listed first
  CHECK(in.mask("xabcdefghy") == "x***y");
  CHECK(in.mask("xabcdy") == "x***y");
  load::InputValues overlap;
  overlap.secret_values = {"abab"};
  CHECK(overlap.mask("ababab-") == "***-");  // occurrences at 0 and 2 overlap: one ***
  load::InputValues chained;
  chained.secret_values = {"1234", "3456"};
  CHECK(chained.mask("0123456") == "0***");
}

TEST_CASE("masking ignores empty secrets and secrets of fewer than 4 characters") {
  load::InputValues in;
  in.secret_values = {"", "ab", "abc", "abcd"};
  CHECK(in.mask("a ab abc abcd") == "a ab abc ***");
}

TEST_CASE("lenient resolution leaves missing inputs unknown — recorded values are used on resume") {
  auto pb = playbook();
  load::Diagnostics diags;
  auto s = sources({});
  s.lenient = true;
  auto in = load::resolve_inputs(pb, s, diags);
  CHECK(!diags.has_errors());
  CHECK(in.values["version"].is_unknown());
  s = sources({"count=9"}, {{"TEST_TOKEN", "t"}});
  s.recorded = {{"version", "v3"}, {"count", "4"}, {"removed_input", "x"}};
  in = load::resolve_inputs(pb, s, diags);
  CHECK(!diags.has_errors());
  CHECK(in.values["version"].str() == "v3");
  CHECK(in.values["count"].integer() == 9);  // --set overrides the recorded value
}

TEST_CASE("vars are evaluated in order with their types") {
  auto pb = playbook();
  load::Diagnostics diags;
  auto in = load::resolve_inputs(pb, sources({"version=v5", "note=hi"}, {{"TEST_TOKEN", "t"}}), diags);
  auto vars = load::evaluate_vars(pb, in, diags);
  REQUIRE(!diags.has_errors());
  CHECK(vars["tag"].str() == "v5-3");
  REQUIRE(vars["list"].is_list());
  CHECK(vars["list"].list()[1].str() == "hi");
}
