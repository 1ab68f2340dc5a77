// relengine's command line: parses options with CLI11 and dispatches to one function per
// subcommand (cli/commands.h). The one place where fatal errors are caught.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"

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
  cmd->add_option("--from", sel.from, "Start at this step: steps not downstream of it count as done")->type_name("STEP");
  cmd->add_flag("--with-deps", sel.with_deps, "With --phase: also run the steps the phases depend on");
}

int run(int argc, char** argv) {
  CLI::App app{"relengine: a declarative workflow engine for software releases.\n"
               "Validates, plans, runs, resumes and draws YAML playbooks of phases and steps."};
  app.set_version_flag("--version", std::string("relengine ") + RELENGINE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  cli::GlobalOptions g;
  if (const char* dir = std::getenv("RELENGINE_STATE_DIR")) g.state_dir = dir;
  if (g.state_dir.empty()) g.state_dir = ".relengine";
  if (std::getenv("NO_COLOR")) g.color = false;
  bool no_color = false;
  app.add_option("--state-dir", g.state_dir, "State directory (default .relengine or $RELENGINE_STATE_DIR)")
      ->type_name("DIR");
  app.add_flag("-v,--verbose", g.verbose, "Stream step output");
  app.add_flag("-q,--quiet", g.quiet, "Print less");
  app.add_flag("--no-color", no_color, "No colour (also: NO_COLOR, or stdout not a terminal)");

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
  return cli::kBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "relengine: internal error: " << e.what() << "\n";
    return 70;
  }
}
