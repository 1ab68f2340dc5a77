// Runs a release: drives the expanded step graph with -j parallelism, locks, gates, retries,
// timeouts and signals, checkpointing every transition in the RunStore before acting on it.
// `run` starts a run; `resume` continues one exactly where it stopped. Used by the CLI.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "load/inputs.h"
#include "plan/plan.h"

namespace relengine::exec {

struct RunOptions {
  std::string state_dir = ".relengine";
  int jobs = 0;               // 0: number of CPUs
  bool yes = false;           // confirm irreversible steps
  bool auto_approve = false;  // approve manual gates (recorded as auto-approved)
  bool dry_run = false;
  bool verbose = false;
  bool quiet = false;
  bool color = false;
  bool interactive = false;   // stdin and stdout are terminals: gates ask
};

struct ResumeRequest {
  std::string run_id;                     // "" = the most recent run
  std::vector<std::string> sets;          // --set overrides of recorded inputs
  std::vector<std::string> rerun;         // --rerun STEP
  std::vector<std::string> rerun_phases;  // --rerun-phase PHASE
};

// Where a step attempt's log lives: RUN_LOG_DIR/STEP.attempt-N.log (one file per attempt, no
// directory per step: a file creation is the costly part of starting a short step).
std::filesystem::path log_path(const std::filesystem::path& run_log_dir, const std::string& step, int attempt);

// Exit codes as in SPEC §1.
int start_run(const std::string& playbook_path, const load::InputSources& inputs, const plan::Selection& selection,
              const RunOptions& options);
int resume_run(const ResumeRequest& request, const RunOptions& options);

}  // namespace relengine::exec
