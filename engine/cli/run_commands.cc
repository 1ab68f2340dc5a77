// run, resume, approve, status, runs and logs: the commands over the state directory.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <cerrno>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "exec/session.h"
#include "load/diagnostics.h"
#include "state/pg_store.h"
#include "state/store.h"

namespace relengine::cli {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

exec::RunOptions run_options(const GlobalOptions& g, const RunFlags& f) {
  exec::RunOptions o;
  o.state_dir = g.state_dir;
  o.jobs = f.jobs;
  o.yes = f.yes;
  o.auto_approve = f.auto_approve;
  o.dry_run = f.dry_run;
  o.wait = f.wait;
  o.run_id = f.run_id;
  o.verbose = g.verbose;
  o.quiet = g.quiet;
  o.log_level = g.log_level;
  o.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  o.color = g.color && isatty(STDOUT_FILENO);
  // The progress line is redrawn in place with a carriage return and "erase line": on a terminal
  // that has them (TERM=dumb says it has not), never in a log file or a pipe. NO_COLOR takes its
  // colour, not the line.
  const char* term = std::getenv("TERM");
  o.progress = isatty(STDOUT_FILENO) && !(term && std::string(term) == "dumb") && !g.quiet;
  return o;
}

int state_error(const std::string& message) {
  std::cerr << "relengine: " << message << "\n";
  return kStateProblem;
}

// The run named, or the most recent one; nullopt after printing why (exit 4).
std::optional<state::RunRecord> find_run(state::RunStore& store, const std::string& id) {
  auto run = id.empty() || id == "latest" ? store.latest_run() : store.find_run(id);
  if (!run) {
    std::vector<std::string> ids;
    for (const auto& r : store.runs()) ids.push_back(r.id);
    std::string msg = id.empty() ? "no runs in " + store.location() : "no run '" + id + "' in " + store.location();
    if (!id.empty())
      if (auto best = load::closest(id, ids); !best.empty()) msg += " (did you mean " + best + "?)";
    state_error(msg + "; `relengine runs` lists the runs");
  }
  return run;
}

using state::RunStatus;
using state::StepStatus;

int outcome(RunStatus status) {
  switch (status) {
    case RunStatus::Failed:
      return kStepFailed;
    case RunStatus::Paused:
      return kPaused;
    case RunStatus::Interrupted:
      return kInterrupted;
    case RunStatus::Running:
    case RunStatus::Succeeded:
      break;
  }
  return kOk;
}

json step_json(const state::StepRecord& s) {
  json j;
  j["id"] = s.id;
  j["phase"] = s.phase;
  j["status"] = state::name(s.status);
  j["reason"] = s.reason.empty() ? json(nullptr) : json(s.reason);
  j["attempts"] = s.attempts;
  j["started"] = s.started.empty() ? json(nullptr) : json(s.started);
  j["finished"] = s.finished.empty() ? json(nullptr) : json(s.finished);
  j["exit_code"] = s.exit_code ? json(*s.exit_code) : json(nullptr);
  j["outputs"] = s.outputs;
  j["message"] = s.message;
  if (!s.approved_by.empty())
    j["approval"] = {{"by", s.approved_by},
                     {"host", s.approved_host},
                     {"at", s.approved_at},
                     {"note", s.approval_note},
                     {"auto", s.auto_approved}};
  return j;
}

json run_json(const state::RunRecord& r) {
  json j;
  j["id"] = r.id;
  j["playbook"] = r.playbook;
  j["name"] = r.name;
  j["status"] = state::name(state::shown_status(r));
  j["started"] = r.started;
  j["finished"] = r.finished.empty() ? json(nullptr) : json(r.finished);
  return j;
}

}  // namespace

int cmd_run(const GlobalOptions& g, const std::string& playbook, const InputOptions& inputs,
            const plan::Selection& selection, const RunFlags& flags) {
  load::InputSources sources;
  sources.sets = inputs.sets;
  sources.inputs_file = inputs.inputs_file;
  return exec::start_run(playbook, sources, selection, run_options(g, flags));
}

int cmd_resume(const GlobalOptions& g, const std::string& run_id, const std::vector<std::string>& sets,
               const std::vector<std::string>& rerun, const std::vector<std::string>& rerun_phases,
               const RunFlags& flags) {
  exec::ResumeRequest req;
  req.run_id = run_id, req.sets = sets, req.rerun = rerun, req.rerun_phases = rerun_phases;
  return exec::resume_run(req, run_options(g, flags));
}

int cmd_approve(const GlobalOptions& g, const std::string& run_id, const std::string& step, const std::string& note,
                const std::string& as, bool if_waiting) {
  try {
    auto store = state::open_store(g.state_dir, state::OpenMode::Existing);
    auto run = find_run(*store, run_id);
    if (!run) return kStateProblem;
    auto steps = store->steps(run->id);
    // The step, or every instance of a for_each step (ID names them all: ID[a], ID[b], ...).
    std::vector<state::StepRecord*> targets;
    for (auto& s : steps)
      if (s.id == step) targets.push_back(&s);
    if (targets.empty())
      for (auto& s : steps)
        if (s.step == step && s.id.size() > step.size() && s.id[step.size()] == '[' && s.id.back() != '*' &&
            s.id != step + "[*]")
          targets.push_back(&s);
    if (targets.empty() && if_waiting && store->expansions(run->id).count(step)) {
      std::cout << "Step " << step << " of run " << run->id
                << " has no instances (its list is empty): nothing to approve.\n";
      return kOk;
    }
    if (targets.empty()) {
      std::vector<std::string> waiting;
      for (const auto& s : steps)
        if (s.status == StepStatus::Waiting) waiting.push_back(s.id);
      std::cerr << "relengine: run " << run->id << " has no step '" << step << "'";
      if (auto best = load::closest(step, waiting); !best.empty())
        std::cerr << " (did you mean " << best << "?)";
      else if (!waiting.empty())
        std::cerr << " (waiting: " << waiting[0] << (waiting.size() > 1 ? ", ..." : "") << ")";
      std::cerr << "\n";
      return kBadInput;
    }
    const std::string flag = state::state_dir_hint(g.state_dir);
    std::size_t approved = 0;
    for (auto* it : targets) {
      if (if_waiting && (it->status == StepStatus::Succeeded || it->status == StepStatus::Skipped)) {
        std::cout << "Step " << it->id << " of run " << run->id << " is " << state::name(it->status)
                  << (it->reason.empty() ? "" : " (" + it->reason + ")") << ": nothing to approve.\n";
        continue;
      }
      if (it->status != StepStatus::Waiting) {
        std::cerr << "relengine: step " << it->id << " of run " << run->id << " is " << state::name(it->status)
                  << ", not waiting for approval\n";
        return kBadInput;
      }
    }
    for (auto* it : targets) {
      if (it->status != StepStatus::Waiting) continue;
      // What it was waiting with: a resume that renders it otherwise voids this approval.
      state::RunStore::Approval approval{as.empty() ? state::user_name() : as, state::host_name(), state::now_rfc3339(),
                                         note, it->fingerprint};
      if (!store->approve(run->id, it->id, approval)) {
        std::cerr << "relengine: step " << it->id << " of run " << run->id
                  << " is no longer waiting as it was (approved or rendered anew meanwhile): see relengine status "
                  << run->id << "\n";
        return kBadInput;
      }
      ++approved;
      std::cout << "Approved " << it->id << " of run " << run->id << " (by " << approval.by << " on " << approval.host
                << ").\n";
    }
    if (approved > 0)
      std::cout << "A driver waiting for it (--wait) goes on; else continue with: relengine" << flag << " resume "
                << run->id << "\n";
    return kOk;
  } catch (const state::StateError& e) {
    return state_error(e.what());
  }
}

json event_json(const state::Event& e) {
  return {{"seq", e.seq},         {"time", e.time},      {"step", e.step}, {"transition", e.transition},
          {"attempt", e.attempt}, {"message", e.message}};
}

int cmd_status(const GlobalOptions& g, const std::string& run_id, bool as_json, bool journal) {
  try {
    auto store = state::open_store(g.state_dir, state::OpenMode::ForReading);
    auto run = find_run(*store, run_id);
    if (!run) return kStateProblem;
    auto steps = store->steps(run->id);
    RunStatus status = state::shown_status(*run);
    if (as_json) {
      json j = run_json(*run);
      j["inputs"] = run->inputs;
      json arr = json::array();
      for (const auto& s : steps) arr.push_back(step_json(s));
      j["steps"] = arr;
      if (run->lease_pid != 0)
        j["lease"] = {{"pid", run->lease_pid},
                      {"host", run->lease_host},
                      {"heartbeat_age_s", state::unix_now() - run->lease_heartbeat}};
      if (journal) {
        json events = json::array();
        for (const auto& e : store->events(run->id)) events.push_back(event_json(e));
        j["journal"] = events;
      }
      std::cout << j.dump(2) << "\n";
      return outcome(status);
    }
    std::cout << "Run " << run->id << ": " << run->name << " (" << run->playbook << ")\n"
              << "Status: " << state::name(status) << "   started " << run->started
              << (run->finished.empty() ? "" : "   finished " + run->finished) << "\n\n";
    std::size_t width = 4;
    for (const auto& s : steps) width = std::max(width, s.id.size());
    std::cout << "STEP" << std::string(width - 2, ' ') << "STATUS               ATTEMPTS  MESSAGE\n";
    for (const auto& s : steps) {
      std::string st = std::string(state::name(s.status)) + (s.reason.empty() ? "" : ":" + s.reason);
      std::cout << s.id << std::string(width - s.id.size() + 2, ' ') << st
                << std::string(st.size() < 21 ? 21 - st.size() : 1, ' ') << s.attempts
                << std::string(s.attempts < 10 ? 9 : 8, ' ') << s.message << "\n";
    }
    // Who waits for whom, since when.
    std::vector<const state::StepRecord*> waiting;
    for (const auto& st : steps)
      if (st.status == StepStatus::Waiting) waiting.push_back(&st);
    if (!waiting.empty()) {
      std::cout << "\nWaiting for approval:\n";
      for (const auto* w : waiting)
        std::cout << "  " << w->id << (w->started.empty() ? "" : " since " + w->started) << ": relengine"
                  << state::state_dir_hint(g.state_dir) << " approve " << run->id << " " << w->id
                  << " --note \"...\"\n";
      if (status == RunStatus::Running)
        std::cout << "  The run's driver (pid " << run->lease_pid << " on host " << run->lease_host
                  << ") holds it: with --wait it goes on once approved; else approve, then resume.\n";
    }
    if (journal) {
      std::cout << "\nJournal:\n";
      for (const auto& e : store->events(run->id))
        std::cout << "  " << e.time << "  " << (e.step.empty() ? "(run)" : e.step) << "  " << e.transition
                  << (e.message.empty() ? "" : ": " + e.message) << "\n";
    }
    std::string flag = state::state_dir_hint(g.state_dir);
    std::cout << "\nGraph of this run: relengine" << flag << " graph " << run->playbook << " --run " << run->id << "\n";
    if (status == RunStatus::Paused || status == RunStatus::Failed || status == RunStatus::Interrupted)
      std::cout << "Continue with:     relengine" << flag << " resume " << run->id << "\n";
    return outcome(status);
  } catch (const state::StateError& e) {
    return state_error(e.what());
  }
}

int cmd_runs(const GlobalOptions& g, bool as_json) {
  try {
    std::unique_ptr<state::RunStore> store;
    try {
      store = state::open_store(g.state_dir, state::OpenMode::ForReading);
    } catch (const state::StateNotFound&) {
      if (as_json)
        std::cout << "[]\n";
      else
        std::cout << "no runs in " << state::masked_location(g.state_dir) << "\n";
      return kOk;
    }
    auto runs = store->runs();
    if (as_json) {
      json arr = json::array();
      for (const auto& r : runs) arr.push_back(run_json(r));
      std::cout << arr.dump(2) << "\n";
      return kOk;
    }
    for (const auto& r : runs) {
      std::string_view shown = state::name(state::shown_status(r));
      std::cout << r.id << "  " << shown << std::string(12 - std::min<std::size_t>(11, shown.size()), ' ') << r.started
                << "  " << r.name << " (" << r.playbook << ")\n";
    }
    return kOk;
  } catch (const state::StateError& e) {
    return state_error(e.what());
  }
}

int cmd_logs(const GlobalOptions& g, const std::string& run_id, const std::string& step) {
  try {
    auto store = state::open_store(g.state_dir, state::OpenMode::ForReading);
    auto run = find_run(*store, run_id);
    if (!run) return kStateProblem;
    auto steps = store->steps(run->id);
    if (std::none_of(steps.begin(), steps.end(), [&](const auto& s) { return s.id == step; })) {
      std::vector<std::string> ids;
      for (const auto& s : steps) ids.push_back(s.id);
      std::cerr << "relengine: run " << run->id << " has no step '" << step << "'";
      if (auto best = load::closest(step, ids); !best.empty()) std::cerr << " (did you mean " << best << "?)";
      std::cerr << "\n";
      return kBadInput;
    }
    bool any = false;
    for (const auto& [n, text] : store->read_log(run->id, step)) {
      std::cout << "=== " << step << " attempt " << n << " ===\n" << text;
      any = true;
    }
    if (!any) std::cout << "(step " << step << " has not run in " << run->id << ")\n";
    return kOk;
  } catch (const state::StateError& e) {
    return state_error(e.what());
  }
}

}  // namespace relengine::cli
