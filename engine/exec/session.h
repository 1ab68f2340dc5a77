// `relengine run` and `relengine resume`: load and check the playbook, resolve inputs, create or
// reconcile the run in the state, take its lease, and hand it to the Builder with the real
// CommandRunner. Used by the CLI.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "exec/builder.h"
#include "load/inputs.h"
#include "plan/plan.h"

namespace relengine::exec {

struct ResumeRequest {
  std::string run_id;                     // "" = the most recent run
  std::vector<std::string> sets;          // --set overrides of recorded inputs
  std::vector<std::string> rerun;         // --rerun STEP
  std::vector<std::string> rerun_phases;  // --rerun-phase PHASE
  // `run --run-id` of a run that exists: continue it from this playbook file (the same playbook, by
  // name), with this selection instead of the one it recorded, and these inputs.
  std::string playbook;
  std::optional<plan::Selection> selection;
  std::string inputs_file;
};

// A run id given by the user (`run --run-id`): letters, digits, '.', '_' and '-', at most 100,
// starting with a letter or digit.
bool valid_run_id(const std::string& id);

// Records `run` with `records` as a new run. With `make_id`, under the first id it makes that no
// run has (another driver may take one at the same moment); without, under `run.id` as given.
// False, with nothing written, when no id could be had.
bool create_new_run(state::RunStore& store, state::RunRecord& run, const std::vector<state::StepRecord>& records,
                    const std::function<std::string()>& make_id);

// Exit codes as in SPEC §1.
int start_run(const std::string& playbook_path, const load::InputSources& inputs, const plan::Selection& selection,
              const RunOptions& options);
int resume_run(const ResumeRequest& request, const RunOptions& options);

}  // namespace relengine::exec
