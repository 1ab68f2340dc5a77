// `relengine export github-actions`: the playbook as a GitHub Actions workflow (docs/github-actions.md).
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "export/github_actions.h"
#include "io/atomic_file.h"
#include "plan/playbook_file.h"

namespace relengine::cli {

int cmd_export_github(const GlobalOptions&, const std::string& playbook, const std::string& output,
                      const std::string& environment, const std::string& setup, const std::string& state,
                      const std::string& action) {
  exporter::GithubOptions opt;
  opt.playbook = playbook;
  if (!environment.empty()) opt.environment = environment;
  if (!action.empty()) opt.action = action;
  if (state == "artifact")
    opt.state = exporter::StateMode::Artifact;
  else if (state != "postgres") {
    std::cerr << "relengine: --state-mode: 'postgres' (a PostgreSQL store, the secret RELENGINE_STATE) or 'artifact'"
                 " (the state directory carried between jobs), not '"
              << load::escape_control(state) << "'\n";
    return kBadInput;
  }
  if (!setup.empty()) {
    std::ifstream in(setup, std::ios::binary);
    if (!in) {
      std::cerr << "relengine: --setup " << setup << ": cannot read it\n";
      return kBadInput;
    }
    std::ostringstream text;
    text << in.rdbuf();
    opt.setup_file = setup;
    opt.setup_text = text.str();
  }
  load::Diagnostics diags;
  auto pb = plan::load_checked(playbook, diags);
  if (!pb) return plan::report(diags, std::cerr);
  load::InputSources sources;
  sources.lenient = true;  // the inputs are the workflow's; defaults expand literal for_each lists
  auto prepared = plan::prepare(*pb, sources, diags);
  if (diags.has_errors()) return plan::report(diags, std::cerr);
  auto workflow = exporter::github_workflow(prepared, opt, diags);
  if (!workflow) return plan::report(diags, std::cerr);
  if (output.empty() || output == "-") {
    std::cout << *workflow;
    return kOk;
  }
  if (std::string error; !io::write_file_atomically(output, *workflow, error)) {
    std::cerr << "relengine: " << error << "\n";
    return kBadInput;
  }
  std::cerr << "Wrote " << output << " (" << std::count(workflow->begin(), workflow->end(), '\n') << " lines)\n";
  return kOk;
}

}  // namespace relengine::cli
