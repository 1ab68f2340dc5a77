// relengine report: the release record of a gated, a failed and then a resumed and succeeded run
// (a tag pushed to a local bare remote, an approval from elsewhere, a retried step, a failure, a
// skipped phase, a link): the JSON validated against schemas/report.schema.json (valijson), the
// Markdown rendered by a Markdown parser (cmark-gfm: its tables and <details> come out), the
// structure checked (not the timestamps), and no secret anywhere. On both stores (e2e/, e2e-pg/).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

const std::string kSecret = "ghp_ReportSecret0123456789";

// Problems of `doc` against the report's JSON Schema, one per line ("" when it is valid).
std::string schema_problems(const json& doc) {
  static const json schema_doc = json::parse(slurp(fs::path(SOURCE_DIR) / "schemas" / "report.schema.json"));
  valijson::Schema schema;
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  std::string out;
  if (!validator.validate(schema, target, &results)) {
    valijson::ValidationResults::Error e;
    while (results.popError(e)) {
      std::string where;
      for (const auto& c : e.context) where += c;
      out += where + ": " + e.description + "\n";
    }
  }
  return out;
}

struct Reported {
  TempDir dir;
  std::string state = (dir / "state").string();
  std::string repo = (dir / "repo").string();
  Reported() {
    Result r =
        shell("git init -q --bare " + quote((dir / "remote.git").string()) + " && git init -q " + quote(repo) +
              " && cd " + quote(repo) + " && git -c user.name=t -c user.email=t@x commit -q --allow-empty -m init" +
              " && git remote add origin " + quote((dir / "remote.git").string()));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    write(dir / "p.yaml", R"YAML(version: 1
name: record
inputs:
  version: {default: v1.0.0}
  token: {secret: true, env: REPORT_TOKEN}
phases:
  - id: cut
    steps:
      - id: open-pr
        idempotent: true
        env: {TOKEN: "${{ inputs.token }}"}
        run: |
          echo "using $TOKEN"
          echo "url=https://github.com/example/repo/pull/42" >> "$RELENGINE_OUTPUT"
      - id: tag
        uses: git.tag
        with: {repo: repo, tag: "${{ inputs.version }}", remote: origin}
      - id: publish-gate
        manual: The release notes are published
      - id: flaky
        idempotent: true
        retry: {attempts: 2, delay: 0s}
        run: |
          [ -e fixed ] || { echo 'upload | failed with `code 3`'; exit 3; }
          echo uploaded
  - id: extra
    if: ${{ false }}
    steps:
      - id: never
        run: echo never
)YAML");
  }
  Result rel(std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir", state});
    return relengine(args, dir.path().string(), "REPORT_TOKEN=" + kSecret);
  }
  std::string run_id() { return json::parse(rel({"runs", "--json"}).out)[0]["id"]; }
  // The record in every format, checked for what every record must be; the JSON returned.
  json record(const std::string& label) {
    CAPTURE(label);
    Result j = rel({"report", run_id(), "--format", "json"});
    REQUIRE_MESSAGE(j.code == 0, j.err);
    json doc = json::parse(j.out);
    CHECK_MESSAGE(schema_problems(doc).empty(), schema_problems(doc));
    Result md = rel({"report", run_id(), "-o", (dir / (label + ".md")).string()});
    REQUIRE_MESSAGE(md.code == 0, md.err);
    std::string text = slurp(dir / (label + ".md"));
    Result html = shell("cmark-gfm -e table --unsafe " + quote((dir / (label + ".md")).string()));
    REQUIRE_MESSAGE(html.code == 0, html.err);
    CHECK(html.out.find("<table>") != std::string::npos);
    CHECK(html.out.find("<h1>Release record: record (run " + doc["run"]["id"].get<std::string>() + ")</h1>") !=
          std::string::npos);
    // The HTML page: self-contained (no script, no resource from anywhere), every step a row,
    // every approval and failure in it.
    Result page = rel({"report", run_id(), "--format", "html", "-o", (dir / (label + ".html")).string()});
    REQUIRE_MESSAGE(page.code == 0, page.err);
    std::string h = slurp(dir / (label + ".html"));
    CHECK(h.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(h.find("</html>") != std::string::npos);
    for (const char* external : {"<script", "<link", "src=", "url(", "@import"}) {
      CAPTURE(external);
      CHECK(h.find(external) == std::string::npos);
    }
    for (const auto& s : doc["steps"])
      CHECK(h.find("<tr data-step=\"" + s["id"].get<std::string>() + "\" data-status=\"" +
                   s["status"].get<std::string>() + "\">") != std::string::npos);
    for (const auto& a : doc["approvals"]) CHECK(h.find(a["by"].get<std::string>()) != std::string::npos);
    for (const auto& f : doc["failures"])
      CHECK(h.find("<div class=\"failure\" data-step=\"" + f["step"].get<std::string>() + "\">") != std::string::npos);
    CHECK(h.find("data-run-status=\"" + doc["run"]["status"].get<std::string>() + "\"") != std::string::npos);
    for (const std::string& out : {j.out, text, html.out, h}) CHECK(out.find(kSecret) == std::string::npos);
    CHECK(doc["inputs"] == json({{"version", "v1.0.0"}}));  // the secret input not even named
    return doc;
  }
};

json step_of(const json& doc, const std::string& id) {
  for (const auto& s : doc["steps"])
    if (s["id"] == id) return s;
  return json();
}

}  // namespace

TEST_CASE(
    "report: the record of a gated run, a failed one and, resumed, a succeeded one — schema-valid, Markdown that "
    "renders, no secret") {
  Reported r;
  // 1. Gated: the tag pushed (--yes), the gate waits.
  Result run = r.rel({"run", "p.yaml", "--yes"});
  REQUIRE_MESSAGE(run.code == 3, run.out << run.err);
  json gated = r.record("gated");
  CHECK(gated["run"]["status"] == "paused");
  CHECK(gated["run"]["playbook_hash"].get<std::string>().rfind("sha256:", 0) == 0);
  std::string remote_sha = shell("git -C " + quote((r.dir / "remote.git").string()) + " rev-parse v1.0.0").out;
  remote_sha.pop_back();
  REQUIRE(gated["tags"].size() == 1);
  CHECK(gated["tags"][0] == json({{"step", "tag"}, {"tag", "v1.0.0"}, {"sha", remote_sha}}));
  CHECK(gated["links"] ==
        json::array({{{"step", "open-pr"}, {"output", "url"}, {"url", "https://github.com/example/repo/pull/42"}}}));
  CHECK(step_of(gated, "publish-gate")["status"] == "waiting");
  CHECK(gated["failures"].empty());
  CHECK(gated["skipped"].empty());  // the phase after the gate has not been reached

  // 2. Approved from elsewhere; the resume fails at `flaky` after its retry.
  Result a = relengine(
      {"--state-dir", r.state, "approve", r.run_id(), "publish-gate", "--as", "pradipta", "--note", "notes checked"},
      r.dir.path().string(), "RELENGINE_HOST=admin-laptop");
  REQUIRE_MESSAGE(a.code == 0, a.err);
  Result failed_run = r.rel({"resume"});
  REQUIRE(failed_run.code == 1);
  json failed = r.record("failed");
  CHECK(failed["run"]["status"] == "failed");
  REQUIRE(failed["failures"].size() == 1);
  const json& f = failed["failures"][0];
  CHECK(f["step"] == "flaky");
  CHECK(f["attempts"] == 2);
  CHECK(f["exit_code"] == 3);
  CHECK(f["log_tail"].dump().find("upload | failed with `code 3`") != std::string::npos);
  CHECK(step_of(failed, "flaky")["retries"] == 1);
  REQUIRE(failed["approvals"].size() == 1);
  CHECK(failed["approvals"][0]["step"] == "publish-gate");
  CHECK(failed["approvals"][0]["by"] == "pradipta");
  CHECK(failed["approvals"][0]["host"] == "admin-laptop");
  CHECK(failed["approvals"][0]["note"] == "notes checked");
  CHECK(failed["approvals"][0]["automatic"] == false);
  std::string md = slurp(r.dir / "failed.md");
  CHECK(md.find("<details><summary>last lines of its log</summary>") != std::string::npos);
  CHECK(md.find("upload \\| failed") == std::string::npos);  // the log is in a code block, as printed
  CHECK(md.find("| `publish-gate` | pradipta | admin-laptop |") != std::string::npos);

  // 3. Fixed and resumed: succeeded; the phases with their durations.
  write(r.dir / "fixed", "");
  REQUIRE(r.rel({"resume"}).code == 0);
  json done = r.record("succeeded");
  CHECK(done["run"]["status"] == "succeeded");
  CHECK(done["failures"].empty());
  CHECK(done["run"]["duration_s"].is_number());
  REQUIRE(done["phases"].size() == 2);
  CHECK(done["phases"][0]["id"] == "cut");
  CHECK(done["phases"][0]["duration_s"].is_number());
  CHECK(done["phases"][0]["steps"] == json::array({"open-pr", "tag", "publish-gate", "flaky"}));
  CHECK(done["phases"][1]["duration_s"].is_null());  // nothing of it ran
  CHECK(step_of(done, "flaky")["attempts"] == 3);
  REQUIRE(done["skipped"].size() == 1);
  CHECK(done["skipped"][0]["step"] == "never");
  CHECK(done["skipped"][0]["reason"] == "condition");

  // The schema is not a formality: a record that breaks it is caught.
  json bad = done;
  bad["run"]["status"] = "finished-ish";
  bad["tags"] = json::array({{{"step", "tag"}, {"tag", "v1.0.0"}}});
  CHECK(schema_problems(bad).find("status") != std::string::npos);
  CHECK(schema_problems(bad).find("sha") != std::string::npos);

  // Usage errors and unknown runs.
  CHECK(r.rel({"report", "nope"}).code == 4);
  CHECK(r.rel({"report", r.run_id(), "--format", "pdf"}).code == 2);
}
