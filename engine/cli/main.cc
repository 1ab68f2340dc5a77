// relengine's command line: parses options with CLI11 and dispatches to one function per
// subcommand (cli/commands.h). The one place where fatal errors are caught.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "exec/actions/action.h"
#include "exec/process.h"
#include "state/store.h"

#ifndef RELENGINE_VERSION
#define RELENGINE_VERSION "0.0.0"
#endif

namespace {

using namespace relengine;

void add_inputs(CLI::App* cmd, cli::InputOptions& in) {
  cmd->add_option("--set", in.sets, "Set an input: NAME=VALUE (repeatable)")->type_name("NAME=VALUE");
  cmd->add_option("--inputs", in.inputs_file, "A YAML map of input values (--set wins over it)")->type_name("FILE");
}

void add_selection(CLI::App* cmd, plan::Selection& sel) {
  cmd->add_option("--phase", sel.phases, "Only these phases (repeatable)")->type_name("PHASE");
  cmd->add_option("--from", sel.from, "Start at this step: steps not downstream of it count as done")
      ->type_name("STEP");
  cmd->add_flag("--with-deps", sel.with_deps, "With --phase: also run the steps the phases depend on");
}

int run(int argc, char** argv) {
  CLI::App app{
      "relengine: a declarative workflow engine for software releases.\n"
      "Validates, plans, runs, resumes and draws YAML playbooks of phases and steps."};
  app.set_version_flag("--version", std::string("relengine ") + RELENGINE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  cli::GlobalOptions g;
  g.state_dir = state::default_location();
  if (std::getenv("NO_COLOR")) g.color = false;
  bool no_color = false;
  app.add_option("--state,--state-dir", g.state_dir,
                 "Where runs are kept: a directory (the SQLite store) or a postgresql:// URL (default "
                 "$RELENGINE_STATE, else $RELENGINE_STATE_DIR, else .relengine)")
      ->type_name("DIR|URL");
  app.add_flag("-v,--verbose", g.verbose, "Stream step output");
  app.add_flag("-q,--quiet", g.quiet, "Print less");
  app.add_flag("--no-color", no_color, "No colour (also: NO_COLOR, or stdout not a terminal)");
  app.add_option("--log-level", g.log_level,
                 "The engine's own log of a run (logs/RUN.engine.log in the state directory): trace, debug, info "
                 "(default), warn, error or off (also: RELENGINE_LOG)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  std::string playbook;
  bool strict = false;
  auto* validate = app.add_subcommand("validate", "Check a playbook: schema, ids, needs, cycles, expressions");
  validate->add_option("PLAYBOOK", playbook, "The playbook file")->required();
  validate->add_flag("--strict", strict, "Treat lint warnings as errors (exit 1)");

  auto* list = app.add_subcommand("list", "List phases and steps, with gates and for_each expansions");
  list->add_option("PLAYBOOK", playbook, "The playbook file")->required();

  cli::InputOptions inputs;
  plan::Selection selection;
  bool json = false;
  auto* plan = app.add_subcommand("plan", "Show the order in which steps would run and what each would do");
  plan->add_option("PLAYBOOK", playbook, "The playbook file")->required();
  add_inputs(plan, inputs);
  add_selection(plan, selection);
  plan->add_flag("--json", json, "Print the plan as JSON");

  cli::RunFlags flags;
  auto add_run_flags = [&](CLI::App* cmd) {
    cmd->add_option("-j,--jobs", flags.jobs, "Steps to run at once (default: number of CPUs)")
        ->check(CLI::Range(1, 1024));
    cmd->add_flag("--yes", flags.yes, "Confirm irreversible steps");
    cmd->add_flag("--auto-approve", flags.auto_approve, "Approve manual gates (recorded as auto-approved)");
    cmd->add_flag("--wait", flags.wait,
                  "At a gate, wait for `relengine approve` (from any machine) instead of pausing with exit 3");
    cmd->add_flag("--dry-run", flags.dry_run, "Render and print every action; run nothing, write no state");
  };
  auto* run = app.add_subcommand("run", "Run a playbook, checkpointing every step");
  run->add_option("PLAYBOOK", playbook, "The playbook file")->required();
  add_inputs(run, inputs);
  add_selection(run, selection);
  add_run_flags(run);
  run->add_option("--run-id", flags.run_id,
                  "The run's id (letters, digits, . _ -); if that run exists, continue it with this selection")
      ->type_name("ID");

  std::string run_id;
  std::vector<std::string> rerun, rerun_phases;
  auto* resume = app.add_subcommand("resume", "Continue a failed, paused or interrupted run where it stopped");
  resume->add_option("RUN_ID", run_id, "The run (default: the most recent)");
  resume->add_option("--set", inputs.sets, "Override a recorded input: NAME=VALUE (repeatable)")
      ->type_name("NAME=VALUE");
  resume->add_option("--rerun", rerun, "Run this step and everything downstream again (repeatable)")->type_name("STEP");
  resume->add_option("--rerun-phase", rerun_phases, "Run this phase and everything downstream again (repeatable)")
      ->type_name("PHASE");
  add_run_flags(resume);

  std::string step, note;
  auto* approve = app.add_subcommand("approve", "Approve a waiting gate or irreversible step");
  approve->add_option("RUN_ID", run_id, "The run")->required();
  approve->add_option("STEP", step, "The waiting step")->required();
  approve->add_option("--note", note, "Why, or what was checked");
  std::string approver;
  approve->add_option("--as", approver, "Who approves (default: $USER, else $LOGNAME, else the uid, of this machine)");
  bool if_waiting = false;
  approve->add_flag("--if-waiting", if_waiting,
                    "A step that is already done (succeeded or skipped) needs no approval: say so, exit 0");

  auto* status = app.add_subcommand("status", "Show a run and its steps; exits with the run's outcome");
  status->add_option("RUN_ID", run_id, "The run (default: the most recent)");
  status->add_flag("--json", json, "Print JSON");
  bool journal = false;
  status->add_flag("--journal", journal, "Also the run's journal: every transition, in order");

  auto* runs = app.add_subcommand("runs", "List the runs in the state directory, most recent first");
  runs->add_flag("--json", json, "Print JSON");

  auto* logs = app.add_subcommand("logs", "Print the log of every attempt of a step");
  logs->add_option("RUN_ID", run_id, "The run (or latest)")->required();
  logs->add_option("STEP", step, "The step")->required();

  std::string report_format = "md", report_output;
  auto* report =
      app.add_subcommand("report", "The release record of a run: versions, approvals, tags, durations, failures");
  report->add_option("RUN_ID", run_id, "The run (or latest)")->required();
  report
      ->add_option(
          "--format", report_format,
          "md (Markdown, for a GitHub issue), json (schemas/report.schema.json) or html (one self-contained page)")
      ->check(CLI::IsMember({"md", "json", "html"}));
  report->add_option("-o,--output", report_output, "Write to FILE (atomically) instead of stdout")->type_name("FILE");

  cli::ServeOptions serve_opts;
  if (const char* t = std::getenv("RELENGINE_SERVE_TOKEN")) serve_opts.token = t;
  auto* serve = app.add_subcommand(
      "serve", "A read-only web view of the runs in the store: live step graphs, step logs, reports (docs/serve.md)");
  serve
      ->add_option("--listen", serve_opts.listen,
                   "ADDRESS:PORT to listen on (default 127.0.0.1:8040; port 0: any free)")
      ->type_name("ADDRESS:PORT");
  serve
      ->add_option("--token", serve_opts.token,
                   "Require this token of every request (also RELENGINE_SERVE_TOKEN); required off loopback")
      ->type_name("TOKEN");

  std::string format = "ascii", output;
  auto* graph = app.add_subcommand("graph", "Draw the step graph, with a run's state");
  graph->add_option("PLAYBOOK", playbook, "The playbook file")->required();
  graph->add_option("--run", run_id, "Show this run's state ('latest' for the most recent)");
  graph->add_option("--format", format, "ascii (default), dot, mermaid, svg or html")
      ->check(CLI::IsMember({"ascii", "dot", "mermaid", "svg", "html"}));
  graph->add_option("-o,--output", output, "Write to FILE instead of stdout")->type_name("FILE");

  auto* exporter = app.add_subcommand("export", "Write the playbook as another tool's workflow");
  exporter->require_subcommand(1);
  auto* github = exporter->add_subcommand(
      "github-actions",
      "A GitHub Actions workflow: a job per phase, an environment job per gate (docs/github-actions.md)");
  std::string environment, setup, state_mode = "postgres", action;
  github->add_option("PLAYBOOK", playbook, "The playbook, by its path from the repository's root")->required();
  github->add_option("-o,--output", output, "Write to FILE (atomically) instead of stdout")->type_name("FILE");
  github->add_option("--environment", environment, "The environment of gates that name none (default: release)")
      ->type_name("NAME");
  github->add_option("--setup", setup, "Steps that install relengine (a YAML list), instead of its action")
      ->type_name("FILE");
  github
      ->add_option("--state-mode", state_mode,
                   "postgres (default: the secret RELENGINE_STATE names a shared store) or artifact (the state "
                   "directory travels between jobs)")
      ->type_name("MODE");
  github
      ->add_option("--relengine-action", action,
                   "The action that installs relengine (default: confidential-containers/relengine@main; pin a "
                   "commit)")
      ->type_name("OWNER/REPO@REF");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return cli::kBadInput;
  }
  if (no_color) g.color = false;

  if (validate->parsed()) return cli::cmd_validate(g, playbook, strict);
  if (list->parsed()) return cli::cmd_list(g, playbook);
  if (plan->parsed()) return cli::cmd_plan(g, playbook, inputs, selection, json);
  if (run->parsed()) return cli::cmd_run(g, playbook, inputs, selection, flags);
  if (resume->parsed()) return cli::cmd_resume(g, run_id, inputs.sets, rerun, rerun_phases, flags);
  if (github->parsed()) return cli::cmd_export_github(g, playbook, output, environment, setup, state_mode, action);
  if (approve->parsed()) return cli::cmd_approve(g, run_id, step, note, approver, if_waiting);
  if (status->parsed()) return cli::cmd_status(g, run_id, json, journal);
  if (runs->parsed()) return cli::cmd_runs(g, json);
  if (logs->parsed()) return cli::cmd_logs(g, run_id, step);
  if (report->parsed()) return cli::cmd_report(g, run_id, report_format, report_output);
  if (serve->parsed()) return cli::cmd_serve(g, serve_opts);
  if (graph->parsed()) return cli::cmd_graph(g, playbook, run_id, format, output);
  return cli::kBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  // Internal entry points: the per-step supervisor and the built-in actions' child process.
  if (argc > 1 && std::string(argv[1]) == "__supervise") return relengine::exec::supervise_main(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "__action") return relengine::exec::actions::action_main(argc, argv);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "relengine: internal error: " << e.what() << "\n";
    return kInternal;
  }
}
