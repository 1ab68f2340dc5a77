#include "exec/builder.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "exec/console.h"
#include "exec/outputs.h"
#include "exec/schedule.h"
#include "load/loader.h"
#include "log/engine_log.h"
#include "model/exit_code.h"

extern char** environ;

namespace relengine::exec {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using state::StepRecord;

namespace {

constexpr int kFailed = kStepFailed, kBad = kBadInput;

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("relengine") : p.string();
}

using state::RunStatus;
using state::StepStatus;
using state::terminal;

std::string state_dir_flag(const RunOptions& opt) { return state::state_dir_hint(opt.state_dir); }
using state::user_name;

std::vector<std::string> tail_lines(const std::string& text, std::size_t n) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    lines.push_back(l);
    if (lines.size() > n) lines.erase(lines.begin());
  }
  return lines;
}

// One run, one io_context, no threads.
class Builder {
 public:
  Builder(asio::io_context& io, CommandRunner& runner, state::RunStore& store, plan::Prepared& prep,
          state::RunRecord run, std::vector<StepRecord> records, const RunOptions& opt)
      : store_(store),
        prep_(prep),
        run_(std::move(run)),
        opt_(opt),
        console_(std::cout, ConsoleOptions{opt.color, opt.quiet, opt.verbose, opt.progress && !opt.verbose}),
        io_(io),
        runner_(runner),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        heartbeat_(io_),
        approval_timer_(io_),
        live_(io_),
        schedule_(
            prep.graph, done_flags(prep.graph, records),
            opt.jobs > 0 ? static_cast<std::size_t>(opt.jobs) : std::max(1u, std::thread::hardware_concurrency())) {
    const auto& g = prep_.graph;
    nodes_.resize(g.size());
    std::map<std::string, StepRecord> by_id;
    for (auto& r : records) by_id[r.id] = std::move(r);
    for (graph::Vertex v = 0; v < g.size(); ++v) {
      Node& n = nodes_[v];
      n.v = v;
      n.rec = by_id[g.node(v).id];
      n.step = g.node(v).step;
    }
    // The engine's environment, the base of every command's (read once: the engine never changes it).
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos) engine_env_[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    // $RELENGINE_OUTPUT files live outside the state directory (a step may write a secret
    // there; only masked values are stored), in a private directory removed at the end.
    // Preferably in /dev/shm: memory only (a secret never reaches a disk) and creating a file
    // there costs no filesystem journal work, once per attempt.
    // The name carries the engine's pid: a directory left by an engine killed with SIGKILL
    // (possibly holding a secret) is removed by the next engine that starts.
    // (Else in the temporary directory, else in the working directory: mkdtemp makes it 0700.)
    std::error_code ec;
    for (const fs::path& base : {fs::path("/dev/shm"), fs::temp_directory_path(ec), fs::current_path(ec)}) {
      if (base.empty() || access(base.c_str(), W_OK | X_OK) != 0) continue;
      remove_abandoned_output_dirs(base);
      std::string tmpl = (base / ("relengine-outputs-" + std::to_string(getpid()) + "-XXXXXX")).string();
      if (mkdtemp(tmpl.data())) {
        output_dir_ = tmpl;
        own_output_dir_ = true;
        break;
      }
    }
    if (auto absolute = fs::absolute(output_dir_, ec); !ec) output_dir_ = absolute;  // $RELENGINE_OUTPUT is absolute
    // The run's log, in the store. A log that cannot be kept fails each step at its start, with
    // the reason.
    log_ = store_.open_log(run_.id, log_error_);
    if (!log_ && log_error_.empty()) log_error_ = "the store gave no log";
  }

  ~Builder() {
    write_logs();
    std::error_code ec;
    if (own_output_dir_) fs::remove_all(output_dir_, ec);
  }

  // relengine-outputs-PID-XXXXXX directories of ours whose engine is no longer alive.
  static void remove_abandoned_output_dirs(const fs::path& base) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(base, ec)) {
      std::string name = e.path().filename().string();
      const std::string prefix = "relengine-outputs-";
      if (name.rfind(prefix, 0) != 0) continue;
      int pid = std::atoi(name.c_str() + prefix.size());
      struct stat st {};
      if (pid <= 0 || ::lstat(e.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid()) continue;
      if (state::process_alive(pid)) continue;
      std::error_code ignored;
      fs::remove_all(e.path(), ignored);
    }
  }

  int drive() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) { on_signal(ec, sig); });
    beat();
    tick();
    asio::post(io_, [this] { pump(); });
    io_.run();
    return exit_code_;
  }

 private:
  struct Node {
    graph::Vertex v = 0;
    StepRecord rec;
    const model::Step* step = nullptr;
    plan::PlannedStep rendered;
    std::string fingerprint;  // of `rendered`, once computed (while its first command runs)
    std::unique_ptr<CommandRunner::Command> proc;
    bool retired = false;  // an ID[*] that was expanded into its instances
    enum class Stage { None, DoneIf, Pre, Action, Verify } stage = Stage::None;
    std::size_t pre = 0;
    std::unique_ptr<asio::steady_timer> timeout;
    std::unique_ptr<asio::steady_timer> retry;
    bool timed_out = false;
    int attempts_here = 0;       // attempts in this invocation (the retry budget)
    int log_attempt = 0;         // the attempt whose records log_pending becomes
    std::string log_pending;     // this attempt's log text not yet handed to the run's log
    std::uint64_t log_from = 0;  // where in the run's log this attempt's records begin
    bool logged = false;         // an attempt of this step has a log in this invocation
    std::string partial;
    load::SecretMasker masker;  // of the command's output stream
    fs::path output_file;
    fs::path result_file;  // a built-in action's report
    std::chrono::steady_clock::time_point t0;
  };

  static std::vector<bool> done_flags(const graph::StepGraph& g, const std::vector<StepRecord>& records) {
    std::map<std::string, const StepRecord*> by_id;
    for (const auto& r : records) by_id[r.id] = &r;
    std::vector<bool> done(g.size(), false);
    for (graph::Vertex v = 0; v < g.size(); ++v) {
      auto it = by_id.find(g.node(v).id);
      done[v] = it != by_id.end() && terminal(it->second->status);
    }
    return done;
  }

  // ---- bookkeeping ----

  // Transitions are collected and committed together in one transaction (one fsync) before the
  // engine acts on any of them: before a process starts, before the run ends, and at the end of
  // the event being handled. A step that finishes and the step it unblocks thus share a commit.
  void save(Node& n, const std::string& transition, const std::string& message = "") {
    pending_.push_back({n.rec, transition, message});
    if (!flush_posted_) {
      flush_posted_ = true;
      asio::post(io_, [this] { flush(); });
    }
    double secs = 0;
    if (n.t0.time_since_epoch().count() != 0)
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - n.t0).count();
    told_.push_back({pending_.size() - 1, secs});
  }

  // Commits what was saved, then says it: the console never shows a transition the store does
  // not have (a store that fails here stops the run with exit 4, and none of it is shown).
  void flush() {
    flush_posted_ = false;
    write_logs();  // what the log has to say so far is written first (a `==> run` before its `running`)
    if (pending_.empty()) return;
    if (englog::enabled(spdlog::level::debug)) {
      std::string what;
      for (const auto& t : pending_) what += (what.empty() ? "" : ", ") + t.step.id + " " + t.transition;
      englog::debug("commit {} transition(s): {}", pending_.size(), what);
    }
    store_.save_steps(run_.id, pending_);
    englog::flush();  // one write per commit, not one per line
    for (const auto& [i, secs] : told_) console_.transition(pending_[i].step, secs);
    told_.clear();
    pending_.clear();
    draw_progress();
  }

  // ---- the run's log ----

  // Adds `text` to the current attempt's log; written to the run's log at the end of this turn of
  // the event loop (one write for everything added meanwhile) or before a command starts.
  void log(Node& n, std::string_view text) {
    if (n.log_pending.empty()) log_dirty_.push_back(n.v);
    n.log_pending.append(text);
    if (!log_posted_) {
      log_posted_ = true;
      asio::post(io_, [this] { write_logs(); });
    }
  }

  // The node's pending text becomes one record (of its current attempt).
  void seal_log(Node& n) {
    if (log_) log_->add(n.rec.id, n.log_attempt, n.log_pending);
    n.log_pending.clear();
  }

  void write_logs() {
    log_posted_ = false;
    for (auto v : log_dirty_) seal_log(nodes_[v]);
    log_dirty_.clear();
    std::string error;
    if (log_ && !log_->write(error) && log_error_.empty()) log_error_ = error;  // the next attempts fail with it
  }

  const std::string& lock_of(const Node& n) const { return n.step->lock.value; }

  // The fingerprint of what the step runs, recorded with its result. Computed once per rendering,
  // normally right after its first command started (launch), so not between a command's end and
  // the start of the step it unblocks.
  const std::string& fingerprint_of(Node& n) {
    if (n.fingerprint.empty()) n.fingerprint = plan::fingerprint(n.rendered);
    return n.fingerprint;
  }

  // A step reached succeeded, skipped, failed or cancelled: what waits for it may go on.
  void finish(Node& n) {
    n.timeout.reset();
    schedule_.done(n.v);
  }

  bool blocks(const Node& dep) const {
    return (dep.rec.status == StepStatus::Failed && !dep.step->continue_on_error) ||
           dep.rec.status == StepStatus::Cancelled;
  }

  // ---- scheduling ----

  void pump() {
    while (!interrupting_) {
      auto v = schedule_.peek();
      if (!v) break;
      Node& n = nodes_[*v];
      if (terminal(n.rec.status) || n.proc || n.retry) {
        schedule_.pop();
        continue;
      }
      if (!decide(n)) break;  // needs a slot and none is free: wait for one
      schedule_.pop();
    }
    if (schedule_.running() == 0 && retrying_ == 0 && !schedule_.peek()) quiesce();
  }

  // Handles a ready step; false when it needs a process slot and none is free.
  bool decide(Node& n) {
    std::string blocker;
    for (auto d : schedule_.waits(n.v))
      if (blocks(nodes_[d])) blocker = nodes_[d].rec.id;
    if (!blocker.empty()) {
      n.rec.status = StepStatus::Cancelled;
      n.rec.message = "upstream step " + blocker + " did not succeed";
      n.rec.finished = state::now_rfc3339();
      englog::info("decide {}: cancelled, upstream {} did not succeed", n.rec.id, blocker);
      save(n, "cancelled", n.rec.message);
      finish(n);
      return true;
    }
    if (prep_.graph.node(n.v).unexpanded) {
      expand(n);
      return true;
    }
    if (n.stage == Node::Stage::None) {
      load::Diagnostics diags;
      n.rendered = plan::render_step(render_context(), n.v, diags);
      n.fingerprint.clear();
      if (n.rendered.render_failed) {
        std::string msg;
        for (const auto& d : diags.sorted()) msg += (msg.empty() ? "" : "; ") + load::format(d);
        if (n.rendered.render_unsafe) render_error_ = true;
        fail(n, msg);
        return true;
      }
      if (n.rendered.condition == false) {
        n.rec.status = StepStatus::Skipped;
        n.rec.reason = "condition";
        n.rec.message = n.rendered.condition_text;
        n.rec.finished = state::now_rfc3339();
        englog::info("decide {}: skipped, its condition is false ({})", n.rec.id, n.rec.message);
        save(n, "skipped");
        finish(n);
        return true;
      }
      check_approval(n);
      if (n.rendered.gate) {
        englog::info("decide {}: a manual gate{}", n.rec.id,
                     n.rec.approved_by.empty() ? "" : ", approved by " + n.rec.approved_by);
        return gate(n);
      }
      if (n.rendered.irreversible && !opt_.yes && n.rec.approved_by.empty()) {
        wait_for_approval(n, "irreversible: confirm with --yes, or approve it");
        return true;
      }
    }
    if (!schedule_.slot_free()) {
      englog::debug("decide {}: ready, waiting for a free slot ({} running)", n.rec.id, schedule_.running());
      return false;
    }
    if (!schedule_.take_lock(n.v, lock_of(n))) {
      englog::debug("decide {}: ready, waiting for lock '{}'", n.rec.id, lock_of(n));
      return true;  // ready again when the lock is free
    }
    englog::info("decide {}: start attempt {}", n.rec.id, n.rec.attempts + 1);
    start_attempt(n);
    return true;
  }

  // A for_each whose list is only known at run time (ID[*]) became ready: the steps it reads
  // have finished. Its items are computed once, recorded with the instances' records in one
  // transaction (so a resume, even after kill -9, never expands differently), and the
  // placeholder is replaced by the instances, which inherit its dependencies and dependents.
  void expand(Node& p) {
    load::Diagnostics diags;
    auto items = plan::for_each_items(render_context(), p.v, diags);
    if (!items) {
      std::string msg;
      for (const auto& d : diags.sorted()) msg += (msg.empty() ? "" : "; ") + load::format(d);
      fail(p, msg);
      return;
    }
    const model::Step* step = p.step;
    const std::string step_id = step->id.value;
    const std::string phase = p.rec.phase;
    std::vector<StepRecord> records;
    std::string names;
    for (std::size_t i = 0; i < items->size(); ++i) {
      StepRecord r;
      r.id = graph::StepGraph::instance_id(step_id, (*items)[i], i);
      r.step = step_id;
      r.phase = phase;
      r.order = p.rec.order;
      names += (names.empty() ? "" : ", ") + r.id;
      records.push_back(std::move(r));
    }
    flush();  // what led here is durable first
    store_.record_expansion(run_.id, step_id, expr::to_json(expr::Value(expr::List(*items))), p.rec.id, records);
    auto added = prep_.graph.expand(p.v, *items);
    p.retired = true;
    p.rec.status = StepStatus::Skipped;  // terminal: nothing waits for it any more
    console_.note("[" + phase + "] " + p.rec.id + ": expanded into " + std::to_string(added.size()) +
                  (added.empty() ? " instances" : ": " + names));
    for (std::size_t i = 0; i < added.size(); ++i) {
      Node& m = nodes_.emplace_back();
      m.v = added[i];
      m.rec = records[i];
      m.step = step;
    }
    schedule_.expanded(p.v, added);
  }

  // An approval approves one thing: the step as it was rendered when it was approved. Rendered
  // differently now (an edited command, a changed input or upstream output), it is void, and the
  // step asks again. (An approval recorded without a fingerprint, by an older relengine, stands.)
  void check_approval(Node& n) {
    if (n.rec.approved_by.empty() || n.rec.approved_fingerprint.empty()) return;
    if (n.rec.approved_fingerprint == plan::fingerprint(n.rendered)) return;
    std::string msg = "approval by " + n.rec.approved_by + " voided: its command changed since it was approved";
    n.rec.approved_by.clear(), n.rec.approved_at.clear(), n.rec.approval_note.clear();
    n.rec.auto_approved = false;
    n.rec.approved_fingerprint.clear();
    n.rec.message = msg;
    save(n, "approval voided", msg);
  }

  void approve(Node& n, const std::string& note, bool automatic) {
    n.rec.approved_by = user_name();
    n.rec.approved_host = state::host_name();
    n.rec.approved_at = state::now_rfc3339();
    n.rec.approval_note = note;
    n.rec.auto_approved = automatic;
    n.rec.approved_fingerprint = plan::fingerprint(n.rendered);
    englog::info("approval of {} by {} on {}{}: {}", n.rec.id, n.rec.approved_by, n.rec.approved_host,
                 automatic ? " (automatic)" : "", note);
  }

  bool gate(Node& n) {
    if (n.rec.approved_by.empty() && opt_.auto_approve) approve(n, "--auto-approve", true);
    if (n.rec.approved_by.empty()) {
      wait_for_approval(n, "");
      return true;
    }
    n.rec.status = StepStatus::Succeeded;
    n.rec.reason.clear();
    n.rec.finished = state::now_rfc3339();
    if (n.rec.started.empty()) n.rec.started = n.rec.finished;
    n.rec.message = std::string(n.rec.auto_approved ? "auto-approved" : "approved") + " by " + n.rec.approved_by +
                    (n.rec.approval_note.empty() || n.rec.auto_approved ? "" : ": " + n.rec.approval_note);
    n.rec.fingerprint = plan::fingerprint(n.rendered);
    save(n, "approved", n.rec.message);
    finish(n);
    return true;
  }

  void wait_for_approval(Node& n, const std::string& why) {
    // What `relengine approve` approves: the step as rendered now.
    std::string fingerprint = plan::fingerprint(n.rendered);
    if (n.rec.status != StepStatus::Waiting || n.rec.fingerprint != fingerprint) {
      n.rec.status = StepStatus::Waiting;
      n.rec.started = state::now_rfc3339();  // waiting since
      n.rec.fingerprint = fingerprint;
      n.rec.message = why.empty() ? first_line(n.rendered.action.text) : why;
      englog::info("decide {}: wait for approval ({})", n.rec.id, n.rec.message);
      save(n, "waiting", n.rec.message);
    }
    waiting_.push_back(n.v);
  }

  static std::string first_line(const std::string& text) {
    auto nl = text.find('\n');
    return nl == std::string::npos ? text : text.substr(0, nl);
  }

  plan::RenderContext render_context() {
    plan::RenderContext ctx;
    ctx.prepared = &prep_;
    ctx.run_id = run_.id;
    ctx.steps = [this](const std::string& id, const std::string& field,
                       const std::string& key) -> std::optional<expr::Value> {
      auto v = prep_.graph.find(id);
      if (!v) return std::nullopt;
      const StepRecord& r = nodes_[*v].rec;
      if (field == "status") return expr::Value(std::string(state::name(r.status)));
      auto it = r.outputs.find(key);
      if (it == r.outputs.end()) {
        std::string have;
        for (const auto& [k, val] : r.outputs) have += (have.empty() ? "" : ", ") + k;
        if (r.status == StepStatus::Skipped && (r.reason == "condition" || r.reason == "selection"))
          throw expr::ExprError{"step '" + id + "' was skipped (" +
                                    (r.message.empty() ? r.reason : r.reason + ": " + r.message) +
                                    "), so it has no output '" + key + "'; guard the reader with `if: ${{ steps." + id +
                                    ".status != 'skipped' }}`",
                                0};
        throw expr::ExprError{"step '" + id + "' has no output '" + key + "'" +
                                  (r.status == StepStatus::Succeeded || r.status == StepStatus::Skipped
                                       ? (have.empty() ? " (it wrote none)" : " (it has: " + have + ")")
                                       : " (it has not run: " + std::string(state::name(r.status)) + ")"),
                              0};
      }
      return expr::Value(it->second);
    };
    return ctx;
  }

  // ---- one attempt: done_if -> preconditions -> action -> verify ----

  void start_attempt(Node& n) {
    schedule_.take_slot(n.v);
    ++n.attempts_here;
    ++n.rec.attempts;
    n.rec.status = StepStatus::Running;
    n.rec.reason.clear();
    n.rec.message.clear();
    n.rec.exit_code.reset();
    if (n.rec.started.empty() || n.attempts_here == 1) n.rec.started = state::now_rfc3339();
    n.t0 = std::chrono::steady_clock::now();
    n.timed_out = false;
    n.output_file = output_dir_ / (std::to_string(n.v) + "-attempt-" + std::to_string(n.rec.attempts) + ".output");
    n.result_file = output_dir_ / (std::to_string(n.v) + "-attempt-" + std::to_string(n.rec.attempts) + ".result");
    n.masker = prep_.inputs.masker();
    save(n, "running");  // committed before anything runs
    // No step runs without its log: a log that cannot be kept fails the step, with the reason.
    if (!log_error_.empty()) {
      fail(n, "cannot keep the step's log: " + log_error_);
      return;
    }
    if (!n.log_pending.empty()) seal_log(n);  // what is left of the attempt before, under its own header
    n.log_attempt = n.rec.attempts;
    n.log_from = log_->mark();
    n.logged = true;
    // An empty $RELENGINE_OUTPUT for the attempt (in the private outputs directory).
    int out_fd;
    while ((out_fd = ::open(n.output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 &&
           errno == EINTR) {
    }
    if (out_fd >= 0) ::close(out_fd);
    if (n.rendered.timeout.count() > 0) {
      n.timeout = std::make_unique<asio::steady_timer>(io_);
      n.timeout->expires_after(n.rendered.timeout);
      n.timeout->async_wait([this, v = n.v](const boost::system::error_code& e) {
        Node& m = nodes_[v];
        if (e || !m.proc) return;
        m.timed_out = true;
        m.proc->kill();
      });
    }
    if (!n.rendered.done_if.empty())
      run_stage(n, Node::Stage::DoneIf);
    else
      next_after_done_if(n);
  }

  void next_after_done_if(Node& n) {
    n.pre = 0;
    if (!n.rendered.preconditions.empty())
      run_stage(n, Node::Stage::Pre);
    else
      run_stage(n, Node::Stage::Action);
  }

  CommandSpec shell_command(const Node& n, const std::string& text) {
    CommandSpec spec;
    if (n.rendered.shell == "sh")
      spec.argv = {"sh", "-ec", text};
    else
      spec.argv = {"bash", "-eo", "pipefail", "-c", text};
    return spec;
  }

  void run_stage(Node& n, Node::Stage stage) {
    n.stage = stage;
    CommandSpec spec;
    std::string label;
    switch (stage) {
      case Node::Stage::DoneIf:
        spec = shell_command(n, n.rendered.done_if), label = "done_if";
        break;
      case Node::Stage::Pre:
        spec = shell_command(n, n.rendered.preconditions[n.pre].first), label = "precondition";
        break;
      case Node::Stage::Verify:
        spec = shell_command(n, n.rendered.verify), label = "verify";
        break;
      case Node::Stage::Action:
        if (n.rendered.action.kind == model::ActionKind::Uses) {
          // Built-ins run as `relengine __action NAME` under the same supervisor; `with`
          // travels in the environment, not argv, so secrets never show in `ps`.
          spec.argv = {self_exe(), "__action", n.rendered.action.uses};
          label = "uses " + n.rendered.action.uses;
        } else {
          spec = shell_command(n, n.rendered.action.script), label = "run";
        }
        break;
      case Node::Stage::None:
        return;
    }
    std::error_code ec;
    if (!fs::is_directory(n.rendered.workdir, ec)) {
      attempt_failed(n, "workdir " + n.rendered.workdir + " does not exist", false);
      return;
    }
    spec.workdir = n.rendered.workdir;
    spec.env = environment(n);
    if (stage == Node::Stage::Action && n.rendered.action.kind == model::ActionKind::Uses) {
      spec.env["RELENGINE_WITH"] = expr::to_json(n.rendered.action.with);
      spec.env["RELENGINE_ACTION_RESULT"] = n.result_file.string();
    }
    log(n, "==> " + label + "\n");
    graveyard_.push_back(std::move(n.proc));
    // Started right after the handlers that are ready now, so that the commands which become
    // ready together (steps finishing at once at -j N) share one commit.
    to_launch_.emplace_back(n.v, std::move(spec));
    if (!launch_posted_) {
      launch_posted_ = true;
      asio::post(io_, [this] { launch(); });
    }
  }

  void launch() {
    launch_posted_ = false;
    auto batch = std::move(to_launch_);
    to_launch_.clear();
    flush();  // every queued step's `running` (and whatever led to it) is durable before it acts
    for (auto& [v, spec] : batch) {
      Node& n = nodes_[v];
      if (interrupting_) {  // a signal came first: the command never starts
        interrupted(n);
        continue;
      }
      n.proc = runner_.start(
          spec, [this, v = n.v](std::string_view chunk) { on_output(nodes_[v], chunk); },
          [this, v = n.v](const ExitStatus& st) { on_exit(nodes_[v], st); });
      englog::debug("spawn {} {}: pid {} in {}", n.rec.id, stage_name(n.stage), n.proc->pid(), spec.workdir);
    }
    // While the commands run: what their results will record anyway.
    for (auto& [v, spec] : batch) fingerprint_of(nodes_[v]);
  }

  std::map<std::string, std::string> environment(const Node& n) {
    std::map<std::string, std::string> env = engine_env_;
    for (const auto& [k, v] : n.rendered.env) env[k] = v;
    env["RELENGINE_RUN_ID"] = run_.id;
    env["RELENGINE_STEP"] = n.rec.id;
    env["RELENGINE_PHASE"] = n.rec.phase;
    env["RELENGINE_ATTEMPT"] = std::to_string(n.rec.attempts);
    env["RELENGINE_OUTPUT"] = n.output_file.string();  // absolute: output_dir_ is
    const auto& node = prep_.graph.node(n.v);
    if (node.item)
      env["RELENGINE_ITEM"] = expr::to_string(*node.item);
    else
      env.erase("RELENGINE_ITEM");
    return env;
  }

  // The output is masked as a stream (a secret split across reads, or spanning lines, is still
  // masked), then cut into lines for the log and the console.
  void on_output(Node& n, std::string_view chunk) {
    n.partial.append(n.masker.feed(chunk));
    std::size_t start = 0;
    for (auto nl = n.partial.find('\n'); nl != std::string::npos; nl = n.partial.find('\n', start)) {
      emit_line(n, n.partial.substr(start, nl - start));
      start = nl + 1;
    }
    n.partial.erase(0, start);
  }

  void emit_line(Node& n, const std::string& line) {
    log(n, line);
    log(n, "\n");
    if (opt_.verbose) console_.step_output(n.rec.id, line);
  }

  static const char* stage_name(Node::Stage s) {
    switch (s) {
      case Node::Stage::DoneIf:
        return "done_if";
      case Node::Stage::Pre:
        return "precondition";
      case Node::Stage::Action:
        return "action";
      case Node::Stage::Verify:
        return "verify";
      case Node::Stage::None:
        break;
    }
    return "-";
  }

  void on_exit(Node& n, const ExitStatus& st) {
    englog::debug("exit {} {}: {}{}", n.rec.id, stage_name(n.stage),
                  st.spawned ? "code " + std::to_string(st.code) : "not started: " + st.message,
                  n.timed_out ? " (timed out)" : "");
    n.partial.append(n.masker.flush());
    on_output(n, {});
    if (!n.partial.empty()) emit_line(n, n.partial), n.partial.clear();
    graveyard_.push_back(std::move(n.proc));
    asio::post(io_, [this] { graveyard_.clear(); });
    if (!st.spawned) log(n, st.message + "\n");
    if (interrupting_) {
      interrupted(n);
      return;
    }
    n.rec.exit_code = st.code;
    if (n.timed_out) {
      attempt_failed(n, "timed out after " + format_seconds(static_cast<double>(n.rendered.timeout.count()) / 1000),
                     true);
      return;
    }
    switch (n.stage) {
      case Node::Stage::DoneIf:
        if (st.code == 0) {
          if (auto error = read_outputs(n); !error.empty()) {
            attempt_failed(n, error, true);
            return;
          }
          n.rec.status = StepStatus::Skipped;
          n.rec.reason = "done";
          n.rec.exit_code.reset();
          n.rec.finished = state::now_rfc3339();
          n.rec.fingerprint = fingerprint_of(n);
          end_attempt(n);
          englog::info("decide {}: skipped, its done_if says it is done", n.rec.id);
          save(n, "skipped");
          finish(n);
          pump();
        } else {
          next_after_done_if(n);
        }
        return;
      case Node::Stage::Pre:
        if (st.code != 0) {
          const auto& [cmd, message] = n.rendered.preconditions[n.pre];
          attempt_failed(n, !st.spawned ? st.message : "precondition failed: " + (message.empty() ? cmd : message),
                         false);
        } else if (++n.pre < n.rendered.preconditions.size()) {
          run_stage(n, Node::Stage::Pre);
        } else {
          run_stage(n, Node::Stage::Action);
        }
        return;
      case Node::Stage::Action:
        if (st.code == 0 && !n.rendered.verify.empty())
          run_stage(n, Node::Stage::Verify);
        else if (st.code == 0)
          succeed(n);
        else
          attempt_failed(n, st.spawned ? "exit code " + std::to_string(st.code) : st.message, true);
        return;
      case Node::Stage::Verify:
        if (st.code == 0)
          succeed(n);
        else
          attempt_failed(n, !st.spawned ? st.message : "verify failed (exit code " + std::to_string(st.code) + ")",
                         true);
        return;
      case Node::Stage::None:
        return;
    }
  }

  // The whole of a file the command may have written, then the file removed ("" when absent).
  static std::string take_file(const fs::path& path) {
    std::string whole;
    int fd;
    while ((fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR) {
    }
    if (fd < 0) return whole;
    char buf[8192];
    for (ssize_t r; (r = ::read(fd, buf, sizeof buf)) != 0;) {
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) break;
      whole.append(buf, static_cast<std::size_t>(r));
    }
    ::close(fd);
    ::unlink(path.c_str());
    return whole;
  }

  // What the command wrote to $RELENGINE_OUTPUT (exec/outputs: NAME=VALUE and NAME<<DELIMITER),
  // masked as a whole (a secret may span lines). "" or why the outputs cannot be read.
  std::string read_outputs(Node& n) {
    std::string whole = take_file(n.output_file);
    if (whole.empty()) return "";  // the usual case: no outputs
    ParsedOutputs parsed = parse_outputs(prep_.inputs.mask(whole));
    for (const auto& note : parsed.notes) log(n, "relengine: " + note + "\n");
    if (!parsed.error.empty()) return parsed.error;
    for (auto& [k, v] : parsed.values) n.rec.outputs[k] = std::move(v);
    return "";
  }

  // A built-in action's own report (its $RELENGINE_ACTION_RESULT, JSON): whether it found nothing
  // to change, and why. Not in $RELENGINE_OUTPUT, so that no value can say it.
  struct ActionReport {
    bool unchanged = false;
    std::string message;
  };
  ActionReport read_action_report(Node& n) {
    ActionReport r;
    if (n.rendered.action.kind != model::ActionKind::Uses) return r;
    auto j = nlohmann::json::parse(take_file(n.result_file), nullptr, false);
    if (!j.is_object()) return r;
    r.unchanged = j.value("unchanged", false);
    r.message = j.value("message", "");
    return r;
  }

  void end_attempt(Node& n) {
    n.stage = Node::Stage::None;
    n.timeout.reset();
  }

  void succeed(Node& n) {
    if (auto error = read_outputs(n); !error.empty()) {
      attempt_failed(n, error, true);
      return;
    }
    ActionReport report = read_action_report(n);
    bool unchanged = report.unchanged;
    if (unchanged) n.rec.message = prep_.inputs.mask(report.message);  // why there was nothing to do
    n.rec.status = unchanged ? StepStatus::Skipped : StepStatus::Succeeded;
    n.rec.reason = unchanged ? "unchanged" : "";
    n.rec.finished = state::now_rfc3339();
    n.rec.fingerprint = fingerprint_of(n);
    end_attempt(n);
    englog::info("{} {}{} after attempt {}", n.rec.id, state::name(n.rec.status), unchanged ? " (unchanged)" : "",
                 n.rec.attempts);
    save(n, std::string(state::name(n.rec.status)));
    finish(n);
    pump();
  }

  void fail(Node& n, const std::string& message) {
    englog::info("{} failed: {}", n.rec.id, message);
    n.rec.status = StepStatus::Failed;
    n.rec.message = message;
    n.rec.finished = state::now_rfc3339();
    end_attempt(n);
    save(n, "failed", message);
    failed_.push_back(n.v);
    finish(n);
  }

  void attempt_failed(Node& n, const std::string& message, bool retryable) {
    int allowed = std::max(1, n.rendered.retry.attempts);
    if (!retryable || n.attempts_here >= allowed || interrupting_) {
      fail(n, message);
      pump();
      return;
    }
    auto wait = model::retry_delay(n.rendered.retry, n.attempts_here);
    double delay = static_cast<double>(wait.count()) / 1000;
    englog::info("{} attempt {} failed: {}; retry {} of {} in {}", n.rec.id, n.rec.attempts, message,
                 n.attempts_here + 1, allowed, format_seconds(delay));
    end_attempt(n);
    schedule_.release(n.v);
    n.rec.status = StepStatus::Pending;
    n.rec.message =
        "attempt " + std::to_string(n.rec.attempts) + " failed: " + message + "; retrying in " + format_seconds(delay);
    save(n, "retry", n.rec.message);
    ++retrying_;
    n.retry = std::make_unique<asio::steady_timer>(io_);
    n.retry->expires_after(wait);
    n.retry->async_wait([this, v = n.v](const boost::system::error_code& ec) {
      Node& m = nodes_[v];
      --retrying_;
      m.retry.reset();
      if (ec || interrupting_) {
        if (interrupting_) interrupted(m);
        return;
      }
      schedule_.requeue(v);
      pump();
    });
    pump();
  }

  void interrupted(Node& n) {
    schedule_.release(n.v);
    end_attempt(n);
    n.rec.status = StepStatus::Interrupted;
    n.rec.message = "interrupted by a signal";
    n.rec.finished = state::now_rfc3339();
    save(n, "interrupted");
    maybe_finish_interrupt();
  }

  // ---- the end: gates to ask, or the run's outcome ----

  void quiesce() {
    if (finished_ || prompting_ || awaiting_) return;
    flush();
    if (!waiting_.empty() && opt_.interactive) {
      prompting_ = true;
      approved_any_ = false;
      unanswered_.clear();
      ask(0);
      return;
    }
    unanswered();
  }

  // Nobody here answered the waiting steps: wait for approvals from elsewhere (--wait), else the
  // run's outcome.
  void unanswered() {
    if (!waiting_.empty() && opt_.wait && !interrupting_ && !real_failure()) {
      awaiting_ = true;
      await_approvals();
      return;
    }
    conclude();
  }

  // --wait: looks at the store for approvals of the waiting steps (`relengine approve` from any
  // machine); then again when the store signals one (PostgreSQL's NOTIFY) or after its poll
  // interval. The event loop goes on meanwhile: the lease's heartbeat too. Ctrl-C ends the wait
  // as it ends a run: the steps stay waiting, the run resumable.
  void await_approvals() {
    if (finished_ || !awaiting_) return;
    if (!announced_wait_) {
      announced_wait_ = true;
      console_.clear_live();
      std::cout << "\nWaiting for approval (--wait) of:\n";
      for (auto v : waiting_) {
        const Node& n = nodes_[v];
        std::cout << "  " << n.rec.id << ": " << n.rec.message << "\n    relengine" << state_dir_flag(opt_)
                  << " approve " << run_.id << " " << n.rec.id << " --note \"...\"   (from any machine)\n";
      }
      std::cout << "Ctrl-C stops waiting; the steps stay waiting and the run can be resumed.\n" << std::flush;
    }
    if (pick_up_approvals()) return;
    if (!wakeup_) {
      int fd = store_.approval_wakeup_fd(run_.id);
      if (fd >= 0) wakeup_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    }
    if (wakeup_ && !wakeup_pending_) {
      wakeup_pending_ = true;
      wakeup_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        wakeup_pending_ = false;
        if (ec || finished_) return;
        store_.consume_wakeups();
        // The store may have replaced its connection (and so the descriptor): asked for anew.
        wakeup_->release();
        wakeup_.reset();
        approval_timer_.cancel();  // look now
      });
    }
    approval_timer_.expires_after(std::chrono::milliseconds(store_.poll_interval_ms()));
    approval_timer_.async_wait([this](const boost::system::error_code&) { await_approvals(); });
  }

  // The approvals recorded elsewhere for the steps as they wait now: those steps go on.
  bool pick_up_approvals() {
    std::map<std::string, StepRecord> stored;
    try {
      for (auto& r : store_.steps(run_.id)) stored.emplace(r.id, std::move(r));
    } catch (const state::LeaseLost&) {
      throw;
    } catch (const state::StoreLost&) {
      throw;
    } catch (const state::StateError& e) {
      console_.note(std::string("relengine: cannot look for approvals now: ") + e.what());
      return false;
    }
    std::vector<graph::Vertex> still;
    for (auto v : waiting_) {
      Node& m = nodes_[v];
      auto it = stored.find(m.rec.id);
      if (it == stored.end() || it->second.approved_by.empty() ||
          it->second.approved_fingerprint != m.rec.fingerprint) {
        still.push_back(v);
        continue;
      }
      const StepRecord& a = it->second;
      m.rec.approved_by = a.approved_by, m.rec.approved_host = a.approved_host, m.rec.approved_at = a.approved_at;
      m.rec.approval_note = a.approval_note, m.rec.approved_fingerprint = a.approved_fingerprint;
      m.rec.auto_approved = false;
      m.rec.status = StepStatus::Pending;
      englog::info("approval of {} picked up from the store: by {} on {}", m.rec.id, a.approved_by, a.approved_host);
      console_.note("[" + m.rec.phase + "] " + m.rec.id + ": approved by " + a.approved_by +
                    (a.approved_host.empty() ? "" : " on " + a.approved_host) +
                    (a.approval_note.empty() ? "" : ": " + a.approval_note));
      schedule_.requeue(v);
    }
    if (still.size() == waiting_.size()) return false;
    waiting_ = std::move(still);
    awaiting_ = false;
    announced_wait_ = false;
    approval_timer_.cancel();
    asio::post(io_, [this] { pump(); });
    return true;
  }

  // Asks about each waiting step in turn, reading the terminal through the event loop, so that
  // timers keep running while a person thinks: the lease's heartbeat goes on, and no other
  // driver can take the run meanwhile.
  void ask(std::size_t i) {
    if (i == waiting_.size()) {
      prompting_ = false;
      waiting_ = std::move(unanswered_);
      unanswered_.clear();
      if (approved_any_)
        asio::post(io_, [this] { pump(); });
      else
        unanswered();
      return;
    }
    Node& n = nodes_[waiting_[i]];
    console_.clear_live();
    std::cout << "\n" << n.rec.id << (n.rendered.gate ? " (manual gate)" : " (irreversible)") << ":\n";
    std::string text = n.rendered.gate ? n.rendered.action.text : describe_action(n);
    std::istringstream lines(text);
    for (std::string l; std::getline(lines, l);) std::cout << "  " << l << "\n";
    std::cout << (n.rendered.gate ? "Done? [y/N] " : "Run it? [y/N] ") << std::flush;
    if (!terminal_in_) terminal_in_ = std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(STDIN_FILENO));
    asio::async_read_until(*terminal_in_, terminal_buf_, '\n',
                           [this, i](const boost::system::error_code& ec, std::size_t) {
                             if (finished_) return;
                             std::string answer;
                             if (!ec) {
                               std::istream in(&terminal_buf_);
                               std::getline(in, answer);
                             }
                             graph::Vertex v = waiting_[i];
                             Node& m = nodes_[v];
                             if (answer == "y" || answer == "Y" || answer == "yes") {
                               approve(m, "confirmed at the prompt", false);
                               m.rec.status = StepStatus::Pending;
                               m.rec.message = "confirmed at the prompt by " + m.rec.approved_by;
                               save(m, "approved", "confirmed at the prompt");
                               schedule_.requeue(v);
                               approved_any_ = true;
                             } else {
                               unanswered_.push_back(v);
                             }
                             ask(i + 1);
                           });
  }

  // Nothing more can proceed: the run's outcome.
  // A failure outranks a waiting gate: the run cannot finish until it is fixed anyway.
  bool real_failure() const {
    if (any_cancelled()) return true;
    for (auto v : failed_)
      if (!nodes_[v].step->continue_on_error) return true;
    return false;
  }

  void conclude() {
    finished_ = true;
    RunStatus status;
    if (real_failure()) {
      status = RunStatus::Failed;
      exit_code_ = render_error_ ? kBad : kFailed;
    } else if (!waiting_.empty()) {
      status = RunStatus::Paused;
      exit_code_ = kPaused;
    } else {
      status = RunStatus::Succeeded;
      exit_code_ = kOk;
    }
    flush();
    store_.set_run_status(run_.id, status, status != RunStatus::Paused);
    store_.release_lease(run_.id);
    englog::info("run {} {} (exit {}); lease released", run_.id, state::name(status), exit_code_);
    report(status);
    shutdown();
  }

  std::string describe_action(const Node& n) const {
    const auto& a = n.rendered.action;
    if (a.kind == model::ActionKind::Run) return a.script;
    if (a.kind == model::ActionKind::Uses) return "uses " + a.uses + " " + prep_.inputs.mask(expr::to_json(a.with));
    return a.text;
  }

  bool any_cancelled() const {
    for (const auto& n : nodes_)
      if (n.rec.status == StepStatus::Cancelled) return true;
    return false;
  }

  void report(RunStatus status) {
    write_logs();
    std::vector<StepRecord> all;
    for (auto v : prep_.graph.topological_order()) all.push_back(nodes_[v].rec);
    console_.summary(all);
    std::string flag = state_dir_flag(opt_);
    if (!waiting_.empty()) {
      std::cout << "\nRun " << run_.id << (status == RunStatus::Paused ? " is paused: waiting" : " also waits")
                << " for approval of\n";
      for (auto v : waiting_) {
        const Node& n = nodes_[v];
        std::cout << "  " << n.rec.id << ": " << n.rec.message << "\n"
                  << "    relengine" << flag << " approve " << run_.id << " " << n.rec.id << " --note \"...\"\n";
      }
      if (status == RunStatus::Paused)
        std::cout << "then continue with:\n  relengine" << flag << " resume " << run_.id << "\n";
    }
    if (status == RunStatus::Failed) {
      for (auto v : failed_) {
        const Node& n = nodes_[v];
        std::cout << "\nStep " << n.rec.id << " failed: " << n.rec.message << "\n";
        if (n.logged) {
          auto logs = log_->read(n.rec.id, n.log_from);
          for (const auto& l : tail_lines(logs[n.rec.attempts], 20)) std::cout << "  | " << l << "\n";
        }
        if (n.logged) std::cout << "  (full log: relengine" << flag << " logs " << run_.id << " " << n.rec.id << ")\n";
      }
      std::cout << "\nFix the cause, then continue with:\n  relengine" << flag << " resume " << run_.id << "\n";
    } else if (status == RunStatus::Succeeded && !opt_.quiet) {
      std::cout << "\nRun " << run_.id << " succeeded.\n";
    }
  }

  void shutdown() {
    if (terminal_in_) {
      boost::system::error_code ignored;
      terminal_in_->cancel(ignored);
      terminal_in_->close(ignored);
    }
    signals_.cancel();
    runner_.shutdown();
    heartbeat_.cancel();
    approval_timer_.cancel();
    if (wakeup_) {
      boost::system::error_code ignored;
      wakeup_->cancel(ignored);
      wakeup_->release();  // the store's connection keeps its socket
    }
    live_.cancel();
    io_.stop();
  }

  // ---- signals, children, heartbeat ----

  void on_signal(const boost::system::error_code& ec, int sig) {
    if (ec) return;
    englog::warn("signal {} ({}): {}", sig, strsignal(sig),
                 interrupting_ ? "a second one: killing the running steps" : "terminating the running steps");
    if (!interrupting_) {
      interrupting_ = true;
      console_.note(std::string("\nrelengine: ") + strsignal(sig) +
                    ": stopping running steps (TERM, then KILL after 5s)");
      for (auto& n : nodes_) {
        if (n.proc) n.proc->terminate();
        if (n.retry) n.retry->cancel();
      }
    } else {
      for (auto& n : nodes_)
        if (n.proc) n.proc->kill();
    }
    signals_.async_wait([this](const boost::system::error_code& e, int s) { on_signal(e, s); });
    maybe_finish_interrupt();
  }

  void maybe_finish_interrupt() {
    if (!interrupting_ || finished_ || schedule_.running() > 0 || retrying_ > 0) return;
    for (const auto& n : nodes_)
      if (n.proc) return;
    finished_ = true;
    exit_code_ = kInterrupted;
    flush();
    store_.set_run_status(run_.id, RunStatus::Interrupted, true);
    store_.release_lease(run_.id);
    englog::info("run {} interrupted (exit {}); lease released", run_.id, exit_code_);
    std::vector<StepRecord> all;
    for (auto v : prep_.graph.topological_order()) all.push_back(nodes_[v].rec);
    console_.summary(all);
    std::cout << "\nRun " << run_.id << " interrupted. Continue with:\n  relengine" << state_dir_flag(opt_)
              << " resume " << run_.id << "\n";
    shutdown();
  }

  void beat() {
    heartbeat_.expires_after(std::chrono::seconds(5));
    heartbeat_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      try {
        store_.heartbeat(run_.id);
        englog::debug("heartbeat of the lease on run {}", run_.id);
      } catch (const state::LeaseLost& e) {
        englog::error("lease lost: {}", e.what());
        throw;  // another driver has the run: stop at once (exit 4)
      } catch (const state::StoreLost& e) {
        englog::error("store lost: {}", e.what());
        throw;  // the store cannot be written any more: stop (exit 4)
      } catch (const state::StateError& e) {
        englog::warn("heartbeat delayed: {}", e.what());  // a busy database: the lease stays ours
      }
      runner_.heartbeat();  // a dead supervisor is replaced within 5 s
      beat();
    });
  }

  // The progress line, redrawn every second and after every transition printed.
  void tick() {
    if (!console_.options().live) return;
    live_.expires_after(std::chrono::seconds(1));
    live_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      draw_progress();
      tick();
    });
  }

  void draw_progress() {
    if (!console_.options().live || prompting_ || finished_) return;
    Progress p;
    p.total = nodes_.size();
    p.elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    for (const auto& n : nodes_) {
      if (state::terminal(n.rec.status)) ++p.done;
      if (n.rec.status == StepStatus::Running) {
        if (p.phase.empty()) p.phase = n.rec.phase;
        p.running.push_back(n.rec.id);
      }
    }
    if (p.running.empty() && !waiting_.empty())
      p.waiting = "waiting for approval of " + nodes_[waiting_.front()].rec.id +
                  (waiting_.size() > 1 ? " and " + std::to_string(waiting_.size() - 1) + " more" : "");
    console_.live(p);
  }

  state::RunStore& store_;
  plan::Prepared& prep_;  // its graph grows when a for_each is expanded at run time
  state::RunRecord run_;
  RunOptions opt_;
  Console console_;
  asio::io_context& io_;
  CommandRunner& runner_;
  asio::signal_set signals_;
  asio::steady_timer heartbeat_;
  asio::steady_timer approval_timer_;  // --wait: the next look at the store for approvals
  asio::steady_timer live_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::deque<Node> nodes_;  // a deque: expansion appends nodes without moving the others
  std::vector<graph::Vertex> waiting_;
  std::vector<graph::Vertex> failed_;
  std::vector<std::unique_ptr<CommandRunner::Command>> graveyard_;
  std::vector<std::pair<graph::Vertex, CommandSpec>> to_launch_;  // committed with the next launch()
  bool launch_posted_ = false;
  std::vector<state::RunStore::Transition> pending_;  // saved, not yet committed
  std::vector<std::pair<std::size_t, double>> told_;  // which of pending_ to show once committed, how long each took
  bool flush_posted_ = false;
  std::map<std::string, std::string> engine_env_;
  std::unique_ptr<state::LogWriter> log_;  // the run's log in the store (nullptr: it cannot be kept)
  std::string log_error_;                  // why the run's log cannot be kept (every attempt fails at its start), or ""
  std::vector<graph::Vertex> log_dirty_;   // nodes with log text not yet written
  bool log_posted_ = false;
  fs::path output_dir_;
  bool own_output_dir_ = false;  // output_dir_ was made for this engine (and is removed at its end)
  int retrying_ = 0;
  bool interrupting_ = false;
  bool finished_ = false;
  bool render_error_ = false;
  int exit_code_ = kOk;
  bool prompting_ = false;  // asking at the terminal about the waiting steps
  bool approved_any_ = false;
  std::vector<graph::Vertex> unanswered_;
  std::unique_ptr<asio::posix::stream_descriptor> terminal_in_;  // a dup of stdin, read by the event loop
  bool awaiting_ = false;                                        // --wait: waiting for approvals from elsewhere
  bool announced_wait_ = false;
  std::unique_ptr<asio::posix::stream_descriptor> wakeup_;  // the store's wakeup descriptor (not ours to close)
  bool wakeup_pending_ = false;
  asio::streambuf terminal_buf_;
  Schedule schedule_;  // last: built from prep_ and the records in the constructor
};

}  // namespace

int build(asio::io_context& io, CommandRunner& runner, state::RunStore& store, plan::Prepared& prep,
          const state::RunRecord& run, std::vector<StepRecord> records, const RunOptions& options) {
  Builder builder(io, runner, store, prep, run, std::move(records), options);
  return builder.drive();
}

}  // namespace relengine::exec
