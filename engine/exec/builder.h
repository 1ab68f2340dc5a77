// Runs a release's steps (ninja's Builder): for each step the Schedule says is ready, its `if`,
// rendering and gates, then each attempt's done_if, preconditions, action and verify through a
// CommandRunner; outputs, logs, retries, timeouts, signals and the console — every transition
// checkpointed in the RunStore before the engine acts on it. Used by exec/session (run, resume)
// and, with a fake CommandRunner, by the unit tests of the executor's decisions.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "exec/command_runner.h"
#include "plan/plan.h"
#include "state/store.h"

namespace relengine::exec {

struct RunOptions {
  std::string state_dir = ".relengine";
  int jobs = 0;               // 0: number of CPUs
  bool yes = false;           // confirm irreversible steps
  bool auto_approve = false;  // approve manual gates (recorded as auto-approved)
  bool dry_run = false;
  bool wait = false;  // at a gate nobody answered: wait for an approval from elsewhere (--wait)
  bool verbose = false;
  bool quiet = false;
  bool color = false;
  bool interactive = false;  // stdin and stdout are terminals: gates ask
  bool progress = false;     // stdout is a terminal that can redraw a line: keep a progress line
  std::string log_level;     // --log-level of the engine's own log ("" : $RELENGINE_LOG, else info)
  std::string run_id;        // run --run-id: the id of the run to start, or to continue if it exists
};

// Drives the run until nothing more can proceed; returns its exit code (SPEC §1). `records`: one
// per step instance of `prep`'s graph, as stored. The run's lease must be held. The graph of
// `prep` grows when a for_each known at run time is expanded.
int build(boost::asio::io_context& io, CommandRunner& runner, state::RunStore& store, plan::Prepared& prep,
          const state::RunRecord& run, std::vector<state::StepRecord> records, const RunOptions& options);

}  // namespace relengine::exec
