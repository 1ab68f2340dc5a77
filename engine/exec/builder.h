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
  bool verbose = false;
  bool quiet = false;
  bool color = false;
  bool interactive = false;  // stdin and stdout are terminals: gates ask
};

// The run's log: LOGS_DIR/RUN.log (STATE_DIR/logs/RUN.log), one append-only file for every attempt
// of every step of the run, in records that name their step and attempt (docs/execution.md, "Logs").
std::filesystem::path run_log_path(const std::filesystem::path& logs_dir, const std::string& run_id);
// What `step`'s attempts wrote to the run's log `file` (from byte `from` on), by attempt number;
// attempts that have no record there are absent.
std::map<int, std::string> read_run_log(const std::filesystem::path& file, const std::string& step,
                                        std::uint64_t from = 0);
// Where runs recorded before the run's log kept an attempt's log: RUN_LOG_DIR/STEP.attempt-N.log
// (one file per attempt; older still, STEP/attempt-N.log). Read by `relengine logs`.
std::filesystem::path log_path(const std::filesystem::path& run_log_dir, const std::string& step, int attempt);

// Drives the run until nothing more can proceed; returns its exit code (SPEC §1). `records`: one
// per step instance of `prep`'s graph, as stored. The run's lease must be held. The graph of
// `prep` grows when a for_each known at run time is expanded.
int build(boost::asio::io_context& io, CommandRunner& runner, state::RunStore& store, plan::Prepared& prep,
          const state::RunRecord& run, std::vector<state::StepRecord> records, const RunOptions& options);

}  // namespace relengine::exec
