#include "cli/commands.h"

#include <iostream>

#include "plan/playbook_file.h"

namespace relengine::cli {

namespace {

std::optional<model::Playbook> load_checked(const std::string& path, load::Diagnostics& diags) {
  return plan::load_checked(path, diags);
}

int report(const load::Diagnostics& diags, bool show_warnings = true) {
  return plan::report(diags, std::cerr, show_warnings);
}

}  // namespace

int cmd_validate(const GlobalOptions& g, const std::string& playbook, bool strict) {
  load::Diagnostics diags;
  auto pb = load_checked(playbook, diags);
  if (!pb) return report(diags);
  report(diags);
  std::size_t steps = 0;
  for (const auto& ph : pb->phases) steps += ph.steps.size();
  std::size_t warnings = diags.warning_count();
  if (strict && warnings > 0) {
    std::cerr << playbook << ": " << warnings << (warnings == 1 ? " warning" : " warnings")
              << " (errors under --strict)\n";
    return kStepFailed;
  }
  if (!g.quiet)
    std::cout << playbook << ": valid (" << pb->phases.size() << " phases, " << steps << " steps"
              << (warnings ? ", " + std::to_string(warnings) + (warnings == 1 ? " warning" : " warnings") : "")
              << ")\n";
  return kOk;
}

int cmd_list(const GlobalOptions&, const std::string& playbook) {
  load::Diagnostics diags;
  auto pb = load_checked(playbook, diags);
  if (!pb) return report(diags);
  load::InputSources sources;
  sources.lenient = true;
  load::Diagnostics input_diags;
  auto prepared = plan::prepare(*pb, sources, input_diags);
  if (input_diags.has_errors()) return report(input_diags);
  plan::print_list(std::cout, prepared);
  return kOk;
}

int cmd_plan(const GlobalOptions&, const std::string& playbook, const InputOptions& inputs,
             const plan::Selection& selection, bool json) {
  load::Diagnostics diags;
  auto pb = load_checked(playbook, diags);
  if (!pb) return report(diags);
  load::InputSources sources;
  sources.sets = inputs.sets;
  sources.inputs_file = inputs.inputs_file;
  load::Diagnostics plan_diags;
  auto prepared = plan::prepare(*pb, sources, plan_diags);
  if (plan_diags.has_errors()) return report(plan_diags);
  auto plan = plan::make_plan(prepared, selection, plan_diags);
  if (plan_diags.has_errors()) return report(plan_diags);
  if (json)
    std::cout << plan::plan_json(prepared, plan).dump(2) << "\n";
  else
    plan::print_plan(std::cout, prepared, plan);
  return kOk;
}

}  // namespace relengine::cli
