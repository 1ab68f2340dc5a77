#include "export/github_actions.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "expr/expr.h"
#include "load/yaml_nodes.h"

namespace relengine::exporter {

// Pinned by commit, newest v4 releases (bump with Dependabot or by hand: docs/github-actions.md).
const PinnedAction kCheckout{"actions/checkout", "11d5960a326750d5838078e36cf38b85af677262", "v4.4.0"};
const PinnedAction kUploadArtifact{"actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"};
const PinnedAction kDownloadArtifact{"actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"};
const PinnedAction kCache{"actions/cache", "0057852bfaa89a56745cba8c7296529d2fc39830", "v4.3.0"};

namespace {

using graph::Vertex;

constexpr const char* kStateArtifact = "relengine-state";
constexpr const char* kWorkspaceArtifact = "relengine-workspace";
constexpr const char* kRunId = "gh-${{ github.run_id }}";

// A gate or an irreversible step: a job of its own, in a GitHub environment.
struct Gate {
  std::string id;  // the step instance's id
  const model::Step* step = nullptr;
  std::string environment;
  bool irreversible = false;
};

// A phase, cut at its gates: segment 0 runs up to the first gate, segment k after gate k.
struct PhaseJobs {
  const model::Phase* phase = nullptr;
  std::vector<Gate> gates;
  std::set<std::size_t> needs;  // indexes of the phases it waits for
  std::string condition;        // the job's `if` when the phase's `if` reads only inputs, else ""
};

// A GitHub job id: letters, digits, '-' and '_', starting with a letter or '_'.
std::string job_id(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '-';
  while (out.size() > 1 && out.back() == '-') out.pop_back();
  if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "p-" + out;
  return out;
}

std::string env_name(const std::string& input) {
  std::string out = "IN_";
  for (char c : input) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

// A phase's `if` as a GitHub expression, when it reads only boolean inputs through !, &&, ||, ==
// and != (which GitHub evaluates as relengine does); "" otherwise, and relengine decides it.
// `direct`: the inputs that are the workflow's own (the others are folded into one: see below).
std::optional<std::string> github_expression(const expr::Expr& e, const plan::Prepared& prep,
                                             const std::set<std::string>& direct) {
  using K = expr::Expr::Kind;
  auto bool_input = [&](const expr::Expr& x) {
    if (x.kind != K::Ref || x.path.size() != 2 || x.path[0] != "inputs" || !direct.count(x.path[1])) return false;
    for (const auto& in : prep.playbook->inputs)
      if (in.name == x.path[1]) return in.type == model::InputType::Bool;
    return false;
  };
  switch (e.kind) {
    case K::Literal:
      if (e.literal.is_bool()) return std::string(e.literal.boolean() ? "true" : "false");
      return std::nullopt;
    case K::Ref:
      if (bool_input(e)) return "inputs." + e.path[1];
      return std::nullopt;
    case K::Not: {
      auto a = github_expression(*e.args.at(0), prep, direct);
      if (!a) return std::nullopt;
      return "!" + *a;
    }
    case K::And:
    case K::Or:
    case K::Eq:
    case K::Ne: {
      auto a = github_expression(*e.args.at(0), prep, direct);
      auto b = github_expression(*e.args.at(1), prep, direct);
      if (!a || !b) return std::nullopt;
      const char* op = e.kind == K::And ? " && " : e.kind == K::Or ? " || " : e.kind == K::Eq ? " == " : " != ";
      return "(" + *a + op + *b + ")";
    }
    default:
      return std::nullopt;
  }
}

std::string phase_condition(const model::Phase& phase, const plan::Prepared& prep,
                            const std::set<std::string>& direct) {
  if (!phase.if_expr.given) return "";
  std::string text = phase.if_expr.value;
  auto first = text.find_first_not_of(" \t\n");
  auto last = text.find_last_not_of(" \t\n");
  if (first == std::string::npos) return "";
  text = text.substr(first, last - first + 1);
  if (text.rfind("${{", 0) != 0 || text.size() < 5 || text.compare(text.size() - 2, 2, "}}") != 0) return "";
  std::string inner = text.substr(3, text.size() - 5);
  if (inner.find("${{") != std::string::npos || inner.find("}}") != std::string::npos) return "";
  auto parsed = expr::parse(inner);
  if (parsed.error || !parsed.expr) return "";
  return github_expression(*parsed.expr, prep, direct).value_or("");
}

class Writer {
 public:
  Writer(const plan::Prepared& prep, const GithubOptions& opt, std::vector<PhaseJobs> phases,
         std::set<std::string> direct, std::vector<const model::Input*> folded, std::string folded_name)
      : prep_(prep),
        opt_(opt),
        phases_(std::move(phases)),
        direct_(std::move(direct)),
        folded_(std::move(folded)),
        folded_name_(std::move(folded_name)) {}

  std::string write(const YAML::Node& setup) {
    const model::Playbook& pb = *prep_.playbook;
    out_.SetIndent(2);
    out_ << YAML::Comment("Generated by `relengine export github-actions " + opt_.playbook +
                          "`: run the export again after changing the playbook (docs/github-actions.md).");
    out_ << YAML::BeginMap;
    out_ << YAML::Key << "name" << YAML::Value << "Release: " + pb.name.value;
    write_trigger();
    write_permissions();
    const bool has_version = std::any_of(pb.inputs.begin(), pb.inputs.end(),
                                         [](const model::Input& in) { return in.name == "version" && !in.secret; });
    out_ << YAML::Key << "concurrency" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "group" << YAML::Value
         << "relengine-" + pb.name.value + (has_version ? "-${{ inputs.version }}" : "");
    out_ << YAML::Key << "cancel-in-progress" << YAML::Value << false << YAML::EndMap;
    if (opt_.state == StateMode::Postgres) {
      out_ << YAML::Key << "env" << YAML::Value << YAML::BeginMap;
      out_ << YAML::Key << "RELENGINE_STATE" << YAML::Value << "${{ secrets.RELENGINE_STATE }}";
      out_ << YAML::EndMap;
    }
    out_ << YAML::Key << "jobs" << YAML::Value << YAML::BeginMap;
    std::string previous;  // the job before, in the order they are written
    bool first = true;
    for (std::size_t p = 0; p < phases_.size(); ++p) {
      const PhaseJobs& ph = phases_[p];
      std::vector<std::string> needs;
      for (auto q : ph.needs) needs.push_back(last_job(q));
      for (std::size_t k = 0; k <= ph.gates.size(); ++k) {
        const std::string id = segment_job(p, k);
        if (k > 0) needs = {gate_job(p, k - 1)};
        write_segment(ph, k, id, needs, first, setup);
        first = false;
        if (k < ph.gates.size()) write_gate(ph, ph.gates[k], gate_job(p, k), id, setup);
      }
    }
    out_ << YAML::EndMap << YAML::EndMap;
    return std::string(out_.c_str()) + "\n";
  }

 private:
  std::string segment_job(std::size_t p, std::size_t k) const {
    std::string base = job_id(phases_[p].phase->id.value);
    return k == 0 ? base : base + "-after-" + job_id(phases_[p].gates[k - 1].id);
  }
  std::string gate_job(std::size_t p, std::size_t k) const {
    return (phases_[p].gates[k].irreversible ? "confirm-" : "approve-") + job_id(phases_[p].gates[k].id);
  }
  std::string last_job(std::size_t p) const { return segment_job(p, phases_[p].gates.size()); }

  void write_trigger() {
    out_ << YAML::Key << "on" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "workflow_dispatch" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "inputs" << YAML::Value << YAML::BeginMap;
    for (const auto& in : prep_.playbook->inputs) {
      if (in.secret || !direct_.count(in.name)) continue;
      out_ << YAML::Key << in.name << YAML::Value << YAML::BeginMap;
      std::string description = in.description.empty() ? in.name : in.description;
      if (in.pattern) description += " (must match " + in.pattern->value + "; relengine checks it)";
      out_ << YAML::Key << "description" << YAML::Value << description;
      out_ << YAML::Key << "required" << YAML::Value << in.required;
      out_ << YAML::Key << "type" << YAML::Value
           << (in.type == model::InputType::Bool  ? "boolean"
               : in.type == model::InputType::Int ? "number"
                                                  : "string");
      if (in.default_value && in.default_value->kind == model::Node::Kind::Scalar) {
        const std::string& d = in.default_value->scalar;
        out_ << YAML::Key << "default" << YAML::Value;
        if (in.type == model::InputType::Bool)
          out_ << (d == "true");
        else if (in.type == model::InputType::Int)
          out_ << std::stoll(d);
        else
          out_ << YAML::DoubleQuoted << d;
      }
      out_ << YAML::EndMap;
    }
    if (!folded_.empty()) {
      std::string description = "More inputs, as a YAML map (e.g. {" + folded_[0]->name +
                                ": VALUE}); each one left out "
                                "keeps its default:";
      for (const auto* in : folded_) {
        description += " " + in->name;
        if (in->default_value && in->default_value->kind == model::Node::Kind::Scalar)
          description +=
              " (" + (in->default_value->scalar.empty() ? std::string("\"\"") : in->default_value->scalar) + ")";
        description += in == folded_.back() ? "." : ",";
      }
      out_ << YAML::Key << folded_name_ << YAML::Value << YAML::BeginMap;
      out_ << YAML::Key << "description" << YAML::Value << description;
      out_ << YAML::Key << "required" << YAML::Value << false;
      out_ << YAML::Key << "type" << YAML::Value << "string";
      out_ << YAML::Key << "default" << YAML::Value << YAML::DoubleQuoted << "";
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  }

  void write_permissions() {
    // Least privilege: push branches and tags, create releases (contents); open and merge pull
    // requests when a step calls `gh pr` (pull-requests).
    bool prs = false;
    for (graph::Vertex v = 0; v < prep_.graph.size(); ++v) {
      const auto* st = prep_.graph.node(v).step;
      if (st->run.value.find("gh pr") != std::string::npos) prs = true;
    }
    out_ << YAML::Key << "permissions" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "contents" << YAML::Value << "write";
    if (prs) out_ << YAML::Key << "pull-requests" << YAML::Value << "write";
    out_ << YAML::EndMap;
  }

  // What every job's `if` starts with after the first: go on when no job before failed, also past
  // a job GitHub skipped (a phase whose `if` was false).
  void write_if(const PhaseJobs& ph, bool first) {
    std::string cond = first ? "" : "!failure() && !cancelled()";
    if (!ph.condition.empty()) cond += (cond.empty() ? "" : " && ") + ph.condition;
    if (!cond.empty()) out_ << YAML::Key << "if" << YAML::Value << "${{ " + cond + " }}";
  }

  void write_setup(const YAML::Node& setup) {
    if (setup.IsSequence()) {
      for (const auto& s : setup) out_ << s;
      return;
    }
    out_ << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "Install relengine";
    out_ << YAML::Key << "uses" << YAML::Value << opt_.action << YAML::EndMap;
  }

  void write_artifact_download(const std::string& name, const char* artifact, const std::string& path) {
    out_ << YAML::BeginMap << YAML::Key << "name" << YAML::Value << name;
    out_ << YAML::Key << "uses" << YAML::Value << std::string(kDownloadArtifact.name) + "@" + kDownloadArtifact.sha;
    out_ << YAML::Comment(kDownloadArtifact.tag);
    out_ << YAML::Key << "with" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "name" << YAML::Value << artifact;
    out_ << YAML::Key << "path" << YAML::Value << path;
    out_ << YAML::EndMap << YAML::EndMap;
  }

  void write_artifact_upload(const std::string& name, const char* artifact, const std::string& path,
                             const std::string& condition = "${{ always() }}") {
    out_ << YAML::BeginMap << YAML::Key << "name" << YAML::Value << name;
    out_ << YAML::Key << "if" << YAML::Value << condition;
    out_ << YAML::Key << "uses" << YAML::Value << std::string(kUploadArtifact.name) + "@" + kUploadArtifact.sha;
    out_ << YAML::Comment(kUploadArtifact.tag);
    out_ << YAML::Key << "with" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "name" << YAML::Value << artifact;
    out_ << YAML::Key << "path" << YAML::Value << path;
    out_ << YAML::Key << "overwrite" << YAML::Value << true;
    out_ << YAML::Key << "include-hidden-files" << YAML::Value << true;
    out_ << YAML::Key << "if-no-files-found" << YAML::Value << "error";
    out_ << YAML::EndMap << YAML::EndMap;
  }

  void write_state_download() {
    if (opt_.state == StateMode::Artifact)
      write_artifact_download("The run's state, from the job before", kStateArtifact,
                              "${{ runner.temp }}/relengine-state");
  }

  void write_state_upload() {
    if (opt_.state == StateMode::Artifact)
      write_artifact_upload("The run's state, for the next job", kStateArtifact, "${{ runner.temp }}/relengine-state");
  }

  // Without the secret, relengine would keep a state of its own in each job, which knows nothing
  // of the jobs before: stop instead.
  std::string state_guard() const {
    if (opt_.state != StateMode::Postgres) return "";
    return "[ -n \"${RELENGINE_STATE:-}\" ] || { echo \"::error::the repository secret RELENGINE_STATE (a PostgreSQL "
           "URL) is not set: every job of the release shares the run through it (docs/github-actions.md)\"; exit 1; "
           "}\n";
  }

  // The environment of a step that runs relengine: where the state is, and the engine's log.
  void write_state_env() {
    if (opt_.state == StateMode::Artifact)
      out_ << YAML::Key << "RELENGINE_STATE" << YAML::Value << "${{ runner.temp }}/relengine-state";
    out_ << YAML::Key << "RELENGINE_LOG_DIR" << YAML::Value << "${{ runner.temp }}/relengine-logs";
  }

  void write_segment(const PhaseJobs& ph, std::size_t k, const std::string& id, const std::vector<std::string>& needs,
                     bool first, const YAML::Node& setup) {
    const model::Playbook& pb = *prep_.playbook;
    const bool at_gate = k < ph.gates.size();
    out_ << YAML::Key << id << YAML::Value << YAML::BeginMap;
    std::string name = ph.phase->name.value.empty() ? ph.phase->id.value : ph.phase->name.value;
    if (k > 0) name += " (after " + ph.gates[k - 1].id + ")";
    out_ << YAML::Key << "name" << YAML::Value << name;
    if (!needs.empty()) out_ << YAML::Key << "needs" << YAML::Value << YAML::Flow << needs;
    write_if(ph, first);
    out_ << YAML::Key << "runs-on" << YAML::Value << opt_.runs_on;
    out_ << YAML::Key << "steps" << YAML::Value << YAML::BeginSeq;
    // One workspace for the whole release, as on a laptop: the first job checks the repository
    // out, every later one continues in the workspace the job before left (its local branches and
    // commits), carried as a tar (which keeps file modes, unlike an artifact's files).
    if (first) {
      out_ << YAML::BeginMap << YAML::Key << "id" << YAML::Value << "workspace";
      out_ << YAML::Key << "uses" << YAML::Value << std::string(kCheckout.name) + "@" + kCheckout.sha;
      out_ << YAML::Comment(kCheckout.tag);
      out_ << YAML::Key << "with" << YAML::Value << YAML::BeginMap << YAML::Key << "fetch-depth" << YAML::Value << 0
           << YAML::EndMap << YAML::EndMap;
    } else {
      write_artifact_download("The release's workspace, from the job before", kWorkspaceArtifact,
                              "${{ runner.temp }}/relengine-workspace");
      out_ << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "Unpack the workspace";
      out_ << YAML::Key << "id" << YAML::Value << "workspace";
      out_ << YAML::Key << "shell" << YAML::Value << "bash";
      out_ << YAML::Key << "run" << YAML::Value << YAML::Literal
           << "tar -C \"$GITHUB_WORKSPACE\" -xf \"$RUNNER_TEMP/relengine-workspace/workspace.tar\"\n";
      out_ << YAML::EndMap;
    }
    // The release's commits need an author: GitHub's own bot, as release workflows commonly do.
    out_ << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "Git identity for the release's commits";
    out_ << YAML::Key << "shell" << YAML::Value << "bash";
    out_ << YAML::Key << "run" << YAML::Value << YAML::Literal
         << "git config --global user.name 'github-actions[bot]'\n"
            "git config --global user.email '41898282+github-actions[bot]@users.noreply.github.com'\n";
    out_ << YAML::EndMap;
    write_setup(setup);
    if (!first) write_state_download();
    out_ << YAML::BeginMap;
    out_ << YAML::Key << "name" << YAML::Value
         << "relengine run --phase " + ph.phase->id.value + (at_gate ? " (up to " + ph.gates[k].id + ")" : "");
    out_ << YAML::Key << "shell" << YAML::Value << "bash";
    out_ << YAML::Key << "env" << YAML::Value << YAML::BeginMap;
    write_state_env();
    out_ << YAML::Key << "RELENGINE_RUN_ID" << YAML::Value << kRunId;
    // Inputs reach the script through the environment, never spliced into its text (GitHub's
    // guidance against script injection); secret inputs from the repository's secrets.
    for (const auto& in : pb.inputs) {
      if (in.secret) {
        std::string var = in.env.empty() ? env_name(in.name).substr(3) : in.env;
        out_ << YAML::Key << var << YAML::Value << "${{ secrets." + var + " }}";
      } else if (direct_.count(in.name)) {
        out_ << YAML::Key << env_name(in.name) << YAML::Value << "${{ inputs." + in.name + " }}";
      }
    }
    if (!folded_.empty())
      out_ << YAML::Key << "RELENGINE_MORE_INPUTS" << YAML::Value << "${{ inputs." + folded_name_ + " }}";
    out_ << YAML::EndMap;
    std::string script = "set -euo pipefail\n" + state_guard() + "args=()\n";
    if (!folded_.empty())
      script +=
          "if [ -n \"$RELENGINE_MORE_INPUTS\" ]; then\n"
          "  printf '%s\\n' \"$RELENGINE_MORE_INPUTS\" > \"$RUNNER_TEMP/relengine-inputs.yaml\"\n"
          "  args+=(--inputs \"$RUNNER_TEMP/relengine-inputs.yaml\")\n"
          "fi\n";
    for (const auto& in : pb.inputs) {
      if (in.secret || !direct_.count(in.name)) continue;
      const std::string set = "--set \"" + in.name + "=$" + env_name(in.name) + "\"";
      if (in.required || in.default_value)
        script += "args+=(" + set + ")\n";
      else
        script += "[ -z \"$" + env_name(in.name) + "\" ] || args+=(" + set + ")\n";
    }
    script += "rc=0\nrelengine run " + shell_word(opt_.playbook) + " --run-id \"$RELENGINE_RUN_ID\" --phase " +
              shell_word(ph.phase->id.value) + " --with-deps \"${args[@]}\" || rc=$?\n";
    if (at_gate)
      script += "# 3: paused at " + ph.gates[k].id +
                ", which the next job approves\n[ \"$rc\" -eq 0 ] || [ \"$rc\" -eq 3 ]\n";
    else
      script += "exit \"$rc\"\n";
    out_ << YAML::Key << "run" << YAML::Value << YAML::Literal << script;
    out_ << YAML::EndMap;
    write_state_upload();
    // Packed also after a failure (a re-run continues from it), but never when this job did not get
    // the workspace: an empty one would replace the release's.
    out_ << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "Pack the workspace";
    out_ << YAML::Key << "if" << YAML::Value << "${{ always() && steps.workspace.outcome == 'success' }}";
    out_ << YAML::Key << "shell" << YAML::Value << "bash";
    out_ << YAML::Key << "run" << YAML::Value << YAML::Literal
         << "mkdir -p \"$RUNNER_TEMP/relengine-workspace-out\"\n"
            "tar -C \"$GITHUB_WORKSPACE\" -cf \"$RUNNER_TEMP/relengine-workspace-out/workspace.tar\" .\n";
    out_ << YAML::EndMap;
    write_artifact_upload("The release's workspace, for the next job", kWorkspaceArtifact,
                          "${{ runner.temp }}/relengine-workspace-out",
                          "${{ always() && steps.workspace.outcome == 'success' }}");
    write_logs_upload(id);
    out_ << YAML::EndSeq << YAML::EndMap;
  }

  void write_gate(const PhaseJobs& ph, const Gate& gate, const std::string& id, const std::string& after,
                  const YAML::Node& setup) {
    out_ << YAML::Key << id << YAML::Value << YAML::BeginMap;
    std::string what = gate.step->name.value.empty() ? gate.id : gate.step->name.value;
    out_ << YAML::Key << "name" << YAML::Value << (gate.irreversible ? "Confirm: " : "Approve: ") + what;
    out_ << YAML::Key << "needs" << YAML::Value << YAML::Flow << std::vector<std::string>{after};
    write_if(ph, false);
    out_ << YAML::Key << "runs-on" << YAML::Value << opt_.runs_on;
    out_ << YAML::Key << "environment" << YAML::Value << gate.environment;
    out_ << YAML::Key << "steps" << YAML::Value << YAML::BeginSeq;
    write_setup(setup);
    write_state_download();
    out_ << YAML::BeginMap;
    out_ << YAML::Key << "name" << YAML::Value << "relengine approve " + gate.id;
    out_ << YAML::Key << "shell" << YAML::Value << "bash";
    out_ << YAML::Key << "env" << YAML::Value << YAML::BeginMap;
    write_state_env();
    out_ << YAML::Key << "RELENGINE_RUN_ID" << YAML::Value << kRunId;
    out_ << YAML::Key << "STEP" << YAML::Value << gate.id;
    out_ << YAML::Key << "ENVIRONMENT" << YAML::Value << gate.environment;
    out_ << YAML::Key << "ACTOR" << YAML::Value << "${{ github.actor }}";
    out_ << YAML::Key << "RUN_URL" << YAML::Value
         << "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}";
    out_ << YAML::EndMap;
    out_ << YAML::Key << "run" << YAML::Value << YAML::Literal
         << state_guard() +
                "relengine approve \"$RELENGINE_RUN_ID\" \"$STEP\" --if-waiting --as \"$ACTOR\" \\\n"
                "  --note \"GitHub environment $ENVIRONMENT, run $RUN_URL\"\n";
    out_ << YAML::EndMap;
    write_state_upload();
    out_ << YAML::EndSeq << YAML::EndMap;
  }

  void write_logs_upload(const std::string& job) {
    out_ << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "The engine's log";
    out_ << YAML::Key << "if" << YAML::Value << "${{ always() }}";
    out_ << YAML::Key << "uses" << YAML::Value << std::string(kUploadArtifact.name) + "@" + kUploadArtifact.sha;
    out_ << YAML::Comment(kUploadArtifact.tag);
    out_ << YAML::Key << "with" << YAML::Value << YAML::BeginMap;
    out_ << YAML::Key << "name" << YAML::Value << "relengine-log-" + job;
    out_ << YAML::Key << "path" << YAML::Value << "${{ runner.temp }}/relengine-logs";
    out_ << YAML::Key << "if-no-files-found" << YAML::Value << "ignore";
    out_ << YAML::EndMap << YAML::EndMap;
  }

  static std::string shell_word(const std::string& s) {
    if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || std::string("/._-+=:@").find(c) != std::string::npos;
        }))
      return s;
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

  const plan::Prepared& prep_;
  const GithubOptions& opt_;
  std::vector<PhaseJobs> phases_;
  std::set<std::string> direct_;             // the inputs that are workflow_dispatch inputs
  std::vector<const model::Input*> folded_;  // the others, given together as one YAML map
  std::string folded_name_;
  YAML::Emitter out_;
};

}  // namespace

std::optional<std::string> github_workflow(const plan::Prepared& prep, const GithubOptions& opt,
                                           load::Diagnostics& diags) {
  const model::Playbook& pb = *prep.playbook;
  const std::string& file = pb.path;
  if (opt.playbook.empty() || opt.playbook[0] == '/' || opt.playbook.find("..") != std::string::npos)
    diags.error(file, {},
                "give the playbook's path from the repository's root (e.g. playbooks/release.yaml), as the "
                "workflow's jobs find it in their checkout");
  // Inputs. GitHub's workflow_dispatch takes at most 10: when the playbook has more, the required
  // ones, then those a phase's `if` reads, then the others in file order are the workflow's own up
  // to 9, and the rest are given together in a tenth, as a YAML map (relengine --inputs).
  constexpr std::size_t kMaxInputs = 10;
  std::vector<const model::Input*> dispatch;
  for (const auto& in : pb.inputs) {
    if (in.secret) continue;
    dispatch.push_back(&in);
    if (in.name.empty() || !(std::isalpha(static_cast<unsigned char>(in.name[0])) || in.name[0] == '_'))
      diags.error(file, in.mark, "input '" + in.name + "' is no GitHub input id (it must start with a letter or '_')");
    if (in.default_value && in.default_value->kind != model::Node::Kind::Scalar)
      diags.error(file, in.default_value->mark,
                  "input '" + in.name + "': a default that is a list or a map has no workflow_dispatch form");
  }
  // Each input reaches the scripts as an environment variable of its own.
  std::map<std::string, std::string> variables;
  for (const auto& in : pb.inputs) {
    const std::string var = in.secret ? (in.env.empty() ? env_name(in.name).substr(3) : in.env) : env_name(in.name);
    auto [it, fresh] = variables.emplace(var, in.name);
    if (!fresh)
      diags.error(file, in.mark,
                  "inputs '" + it->second + "' and '" + in.name + "' would be the same variable " + var +
                      " in the workflow's scripts; rename one");
  }
  std::set<std::string> direct;
  std::vector<const model::Input*> folded;
  if (dispatch.size() <= kMaxInputs) {
    for (const auto* in : dispatch) direct.insert(in->name);
  } else {
    std::set<std::string> in_conditions;
    std::set<std::string> all;
    for (const auto* in : dispatch) all.insert(in->name);
    for (const auto& ph : pb.phases) {
      std::string cond = phase_condition(ph, prep, all);
      for (const auto* in : dispatch)
        if (cond.find("inputs." + in->name) != std::string::npos) in_conditions.insert(in->name);
    }
    std::vector<const model::Input*> order;
    for (const auto* in : dispatch)
      if (in->required) order.push_back(in);
    for (const auto* in : dispatch)
      if (!in->required && in_conditions.count(in->name)) order.push_back(in);
    for (const auto* in : dispatch)
      if (!in->required && !in_conditions.count(in->name)) order.push_back(in);
    for (const auto* in : order) {
      if (direct.size() < kMaxInputs - 1)
        direct.insert(in->name);
      else if (in->required)
        diags.error(file, in->mark,
                    "the playbook has more than " + std::to_string(kMaxInputs - 1) +
                        " required inputs; GitHub's workflow_dispatch takes at most " + std::to_string(kMaxInputs) +
                        " inputs: give some of them defaults");
      else
        folded.push_back(in);
    }
    std::sort(folded.begin(), folded.end(), [&](const model::Input* a, const model::Input* b) {
      return a->mark.line < b->mark.line || (a->mark.line == b->mark.line && a->mark.col < b->mark.col);
    });
  }
  std::string folded_name = "more_inputs";
  while (
      std::any_of(pb.inputs.begin(), pb.inputs.end(), [&](const model::Input& in) { return in.name == folded_name; }))
    folded_name = "relengine_" + folded_name;

  // Phases, their gates in execution order, and the phases each waits for.
  std::vector<PhaseJobs> phases;
  std::map<const model::Phase*, std::size_t> index;
  for (const auto& ph : pb.phases) {
    index[&ph] = phases.size();
    PhaseJobs j;
    j.phase = &ph;
    j.condition = phase_condition(ph, prep, direct);
    phases.push_back(j);
  }
  std::set<std::string> gate_jobs;
  for (Vertex v : prep.graph.topological_order()) {
    const auto& node = prep.graph.node(v);
    PhaseJobs& j = phases[index.at(node.phase)];
    for (Vertex d : prep.graph.dependencies(v))
      if (prep.graph.node(d).phase != node.phase) j.needs.insert(index.at(prep.graph.node(d).phase));
    const model::Step& st = *node.step;
    const bool gate = st.action == model::ActionKind::Manual;
    const expr::Value* item = node.item ? &*node.item : nullptr;
    const bool irreversible = !gate && plan::irreversible(prep, st, item, nullptr);
    if (!gate && !irreversible) continue;
    // One job per step: it approves every waiting instance of a for_each step at once (instances
    // known only at run time included); `relengine approve RUN STEP` does that.
    if (std::any_of(j.gates.begin(), j.gates.end(), [&](const Gate& g) { return g.step == &st; })) continue;
    Gate g;
    g.id = st.id.value;
    g.step = &st;
    g.irreversible = irreversible;
    g.environment = st.github_environment.given ? st.github_environment.value : opt.environment;
    // GitHub's environment names: no quotes, backquotes, commas, semicolons or backslashes, and no
    // expression (GitHub would evaluate it).
    if (g.environment.empty() || g.environment.size() > 255 ||
        g.environment.find_first_of("'\"`,;\\\n") != std::string::npos ||
        g.environment.find("${{") != std::string::npos)
      diags.error(st.github_environment.given ? (st.included ? st.included->file : file) : "",
                  st.github_environment.given ? st.github_environment.mark : model::Mark{},
                  "'" + load::escape_control(g.environment) +
                      "' is no GitHub environment name (1 to 255 characters, none of ' \" ` , ; \\, no ${{ }})");
    j.gates.push_back(g);
    if (!gate_jobs.insert(job_id(g.id)).second)
      diags.error(st.included ? st.included->file : file, st.id.mark,
                  "the gates '" + g.id + "' and another have the same GitHub job id '" + job_id(g.id) + "'");
  }

  YAML::Node setup;
  if (!opt.setup_file.empty()) {
    try {
      setup = YAML::Load(opt.setup_text);
    } catch (const YAML::ParserException& e) {
      diags.error(opt.setup_file, {e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
      return std::nullopt;
    }
    if (!setup.IsSequence() || setup.size() == 0) {
      diags.error(opt.setup_file, load::mark_of(setup),
                  "--setup: a list of GitHub workflow steps (each a map with run or uses) that install relengine");
    } else {
      for (const auto& s : setup)
        if (!s.IsMap() || !(s["run"] || s["uses"]))
          diags.error(opt.setup_file, load::mark_of(s), "--setup: each step is a map with 'run' or 'uses'");
    }
  }
  if (diags.has_errors()) return std::nullopt;
  return Writer(prep, opt, std::move(phases), std::move(direct), std::move(folded), folded_name).write(setup);
}

}  // namespace relengine::exporter
