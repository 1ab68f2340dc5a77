// The subcommands of the relengine command line, one function each, over the loaded playbook.
// Called by main.cc only; each returns the process exit code of SPEC §1.
#pragma once

#include <string>
#include <vector>

#include "model/exit_code.h"
#include "plan/plan.h"
#include "state/store.h"

namespace relengine::cli {

using relengine::ExitCode;  // model/exit_code.h
using relengine::kBadInput;
using relengine::kInternal;
using relengine::kInterrupted;
using relengine::kOk;
using relengine::kPaused;
using relengine::kStateProblem;
using relengine::kStepFailed;

struct GlobalOptions {
  std::string state_dir;
  bool verbose = false;
  bool quiet = false;
  bool color = true;
  std::string log_level;  // of the engine's own log: "" for $RELENGINE_LOG, else info
};

struct InputOptions {
  std::vector<std::string> sets;
  std::string inputs_file;
};

int cmd_validate(const GlobalOptions& g, const std::string& playbook, bool strict);
int cmd_list(const GlobalOptions& g, const std::string& playbook);
int cmd_plan(const GlobalOptions& g, const std::string& playbook, const InputOptions& inputs,
             const plan::Selection& selection, bool json);

struct RunFlags {
  int jobs = 0;
  bool yes = false;
  bool auto_approve = false;
  bool dry_run = false;
  bool wait = false;
  std::string run_id;  // run --run-id
};

int cmd_run(const GlobalOptions& g, const std::string& playbook, const InputOptions& inputs,
            const plan::Selection& selection, const RunFlags& flags);
int cmd_resume(const GlobalOptions& g, const std::string& run_id, const std::vector<std::string>& sets,
               const std::vector<std::string>& rerun, const std::vector<std::string>& rerun_phases,
               const RunFlags& flags);
int cmd_approve(const GlobalOptions& g, const std::string& run_id, const std::string& step, const std::string& note,
                const std::string& as, bool if_waiting);
int cmd_export_github(const GlobalOptions& g, const std::string& playbook, const std::string& output,
                      const std::string& environment, const std::string& setup, const std::string& state,
                      const std::string& action);
int cmd_status(const GlobalOptions& g, const std::string& run_id, bool json, bool journal);
int cmd_runs(const GlobalOptions& g, bool json);
int cmd_graph(const GlobalOptions& g, const std::string& playbook, const std::string& run_id, const std::string& format,
              const std::string& output);
int cmd_logs(const GlobalOptions& g, const std::string& run_id, const std::string& step);
int cmd_report(const GlobalOptions& g, const std::string& run_id, const std::string& format, const std::string& output);
struct ServeOptions {
  std::string listen = "127.0.0.1:8040";
  std::string token;
};
int cmd_serve(const GlobalOptions& g, const ServeOptions& options);

}  // namespace relengine::cli
