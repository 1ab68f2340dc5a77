#include "exec/scheduler.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <deque>
#include <queue>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "exec/console.h"
#include "exec/process.h"
#include "load/loader.h"
#include "state/store.h"

extern char** environ;

namespace relengine::exec {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using state::StepRecord;

namespace {

enum Exit : int { kOk = 0, kFailed = 1, kBad = 2, kPaused = 3, kState = 4, kInterrupted = 130 };

std::string make_run_id() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", rd() & 0xffff);
  return std::string(buf) + "-" + suffix;
}

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("relengine") : p.string();
}

bool terminal(const std::string& status) {
  return status == "succeeded" || status == "skipped" || status == "failed" || status == "cancelled";
}

std::string user_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const char* u = std::getenv("LOGNAME"); u && *u) return u;
  return "uid " + std::to_string(getuid());
}

std::string state_dir_flag(const RunOptions& opt) {
  const char* env = std::getenv("RELENGINE_STATE_DIR");
  std::string def = env && *env ? env : ".relengine";
  return opt.state_dir == def ? "" : " --state-dir " + opt.state_dir;
}

std::vector<std::string> tail_lines(const fs::path& file, std::size_t n) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    lines.push_back(l);
    if (lines.size() > n) lines.erase(lines.begin());
  }
  return lines;
}

std::string selection_json(const plan::Selection& sel) {
  nlohmann::json j;
  j["phases"] = sel.phases;
  j["from"] = sel.from;
  j["with_deps"] = sel.with_deps;
  return j.dump();
}

plan::Selection selection_from_json(const std::string& text) {
  plan::Selection sel;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return sel;
  if (j.contains("phases")) sel.phases = j["phases"].get<std::vector<std::string>>();
  if (j.contains("from")) sel.from = j["from"].get<std::string>();
  if (j.contains("with_deps")) sel.with_deps = j["with_deps"].get<bool>();
  return sel;
}

// ---- The driver: one run, one io_context, no threads ----

class Driver {
 public:
  Driver(state::RunStore& store, plan::Prepared& prep, state::RunRecord run, std::vector<StepRecord> records,
         const RunOptions& opt)
      : store_(store),
        prep_(prep),
        run_(std::move(run)),
        opt_(opt),
        console_(std::cout, ConsoleOptions{opt.color, opt.quiet, opt.verbose, opt.interactive && !opt.verbose}),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        sigchld_(io_, SIGCHLD),
        heartbeat_(io_),
        live_(io_) {
    const auto& g = prep_.graph;
    nodes_.resize(g.size());
    std::map<std::string, StepRecord> by_id;
    for (auto& r : records) by_id[r.id] = std::move(r);
    auto order = g.topological_order();
    for (std::size_t i = 0; i < order.size(); ++i) position_[order[i]] = i;
    for (graph::Vertex v = 0; v < g.size(); ++v) {
      Node& n = nodes_[v];
      n.v = v;
      n.rec = by_id[g.node(v).id];
      n.step = g.node(v).step;
    }
    jobs_ = opt.jobs > 0 ? opt.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    log_dir_ = fs::path(store_.dir()) / "logs" / run_.id;
    // $RELENGINE_OUTPUT files live outside the state directory (a step may write a secret
    // there; only masked values are stored), in a private directory removed at the end.
    // Preferably in /dev/shm: memory only (a secret never reaches a disk) and creating a file
    // there costs no filesystem journal work, once per attempt.
    // The name carries the engine's pid: a directory left by an engine killed with SIGKILL
    // (possibly holding a secret) is removed by the next engine that starts.
    output_dir_ = log_dir_;
    std::error_code ec;
    for (const fs::path& base : {fs::path("/dev/shm"), fs::temp_directory_path(ec)}) {
      if (base.empty() || access(base.c_str(), W_OK | X_OK) != 0) continue;
      remove_abandoned_output_dirs(base);
      std::string tmpl = (base / ("relengine-outputs-" + std::to_string(getpid()) + "-XXXXXX")).string();
      if (mkdtemp(tmpl.data())) {
        output_dir_ = tmpl;
        break;
      }
    }
    fs::create_directories(log_dir_, ec);
  }

  ~Driver() {
    std::error_code ec;
    if (output_dir_ != log_dir_) fs::remove_all(output_dir_, ec);
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
    const auto& g = prep_.graph;
    // What each step waits for: its dependencies that have still to run, and, through those that
    // are done, theirs. A resume may run an early step again (its definition changed) while a
    // later one is pending: the later one still comes after it, as the graph says.
    std::vector<std::vector<graph::Vertex>> frontier(g.size());  // of a done step: what still runs above it
    for (auto v : g.topological_order()) {
      std::vector<graph::Vertex> above;
      for (auto d : g.dependencies(v)) {
        if (!terminal(nodes_[d].rec.status)) above.push_back(d);
        else above.insert(above.end(), frontier[d].begin(), frontier[d].end());
      }
      std::sort(above.begin(), above.end());
      above.erase(std::unique(above.begin(), above.end()), above.end());
      Node& n = nodes_[v];
      if (terminal(n.rec.status)) {
        frontier[v] = std::move(above);
        continue;
      }
      for (auto u : above) nodes_[u].waiters.push_back(v);
      n.remaining = above.size();
      n.waits = std::move(above);
      if (n.remaining == 0) ready_.push({position_[v], v});
    }
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) { on_signal(ec, sig); });
    watch_children();
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
    std::size_t remaining = 0;              // of `waits`, those not finished yet
    std::vector<graph::Vertex> waits;       // the steps it runs after in this invocation
    std::vector<graph::Vertex> waiters;     // the steps that wait for it
    plan::PlannedStep rendered;
    std::unique_ptr<ProcessGroup> proc;
    bool retired = false;  // an ID[*] that was expanded into its instances
    enum class Stage { None, DoneIf, Pre, Action, Verify } stage = Stage::None;
    std::size_t pre = 0;
    std::unique_ptr<asio::steady_timer> timeout;
    std::unique_ptr<asio::steady_timer> retry;
    bool timed_out = false;
    bool has_slot = false;
    bool holds_lock = false;
    int attempts_here = 0;  // attempts in this invocation (the retry budget)
    std::ofstream log;
    std::string partial;
    fs::path log_file;
    fs::path output_file;
    std::chrono::steady_clock::time_point t0;
  };

  using Ready = std::pair<std::size_t, graph::Vertex>;

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
    console_.transition(n.rec, secs);
  }

  void flush() {
    flush_posted_ = false;
    if (pending_.empty()) return;
    store_.save_steps(run_.id, pending_);
    pending_.clear();
  }

  const std::string& lock_of(const Node& n) const { return n.step->lock.value; }

  void release(Node& n) {
    if (n.holds_lock) {
      locks_.erase(lock_of(n));
      n.holds_lock = false;
      auto it = lock_waiters_.find(lock_of(n));
      if (it != lock_waiters_.end()) {
        for (auto w : it->second) ready_.push({position_[w], w});
        lock_waiters_.erase(it);
      }
    }
    if (n.has_slot) {
      n.has_slot = false;
      --running_;
    }
  }

  // A step reached succeeded, skipped, failed or cancelled: its dependents may go on.
  void finish(Node& n) {
    release(n);
    n.timeout.reset();
    for (auto d : n.waiters) {
      Node& m = nodes_[d];
      if (m.remaining > 0 && --m.remaining == 0 && !terminal(m.rec.status)) ready_.push({position_[d], d});
    }
  }

  bool blocks(const Node& dep) const {
    return (dep.rec.status == "failed" && !dep.step->continue_on_error) || dep.rec.status == "cancelled";
  }

  // ---- scheduling ----

  void pump() {
    while (!interrupting_ && !ready_.empty()) {
      auto [pos, v] = ready_.top();
      Node& n = nodes_[v];
      if (terminal(n.rec.status) || n.proc || n.retry) {
        ready_.pop();
        continue;
      }
      if (!decide(n)) break;  // needs a slot and none is free: wait for one
      ready_.pop();
    }
    if (running_ == 0 && retrying_ == 0 && ready_.empty()) quiesce();
  }

  // Handles a ready step; false when it needs a process slot and none is free.
  bool decide(Node& n) {
    std::string blocker;
    for (auto d : n.waits)
      if (blocks(nodes_[d])) blocker = nodes_[d].rec.id;
    if (!blocker.empty()) {
      n.rec.status = "cancelled";
      n.rec.message = "upstream step " + blocker + " did not succeed";
      n.rec.finished = state::now_rfc3339();
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
      if (n.rendered.render_failed) {
        std::string msg;
        for (const auto& d : diags.sorted()) msg += (msg.empty() ? "" : "; ") + load::format(d);
        if (n.rendered.render_unsafe) render_error_ = true;
        fail(n, msg);
        return true;
      }
      if (n.rendered.condition == false) {
        n.rec.status = "skipped";
        n.rec.reason = "condition";
        n.rec.message = n.rendered.condition_text;
        n.rec.finished = state::now_rfc3339();
        save(n, "skipped");
        finish(n);
        return true;
      }
      if (n.rendered.gate) return gate(n);
      if (n.rendered.irreversible && !opt_.yes && n.rec.approved_by.empty()) {
        wait_for_approval(n, "irreversible: confirm with --yes, or approve it");
        return true;
      }
    }
    if (running_ >= jobs_) return false;
    if (!lock_of(n).empty()) {
      if (locks_.count(lock_of(n))) {
        lock_waiters_[lock_of(n)].push_back(n.v);
        return true;
      }
      locks_.insert(lock_of(n));
      n.holds_lock = true;
    }
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
    p.rec.status = "skipped";  // terminal: nothing waits for it any more
    console_.note("[" + phase + "] " + p.rec.id + ": expanded into " + std::to_string(added.size()) +
                  (added.empty() ? " instances" : ": " + names));
    std::size_t position = position_[p.v];
    // The instances wait for what the placeholder waited for (all done: it was ready), and the
    // steps that waited for the placeholder wait for every instance instead.
    std::vector<graph::Vertex> waiters;
    for (auto d : p.waiters)
      if (!terminal(nodes_[d].rec.status)) waiters.push_back(d);
    for (std::size_t i = 0; i < added.size(); ++i) {
      Node& m = nodes_.emplace_back();
      m.v = added[i];
      m.rec = records[i];
      m.step = step;
      m.waits = p.waits;
      m.waiters = waiters;
      position_[m.v] = position;
      ready_.push({position, m.v});
    }
    for (auto d : waiters) {
      Node& m = nodes_[d];
      std::replace(m.waits.begin(), m.waits.end(), p.v, added.empty() ? p.v : added[0]);
      if (added.empty()) m.waits.erase(std::remove(m.waits.begin(), m.waits.end(), p.v), m.waits.end());
      else m.waits.insert(m.waits.end(), added.begin() + 1, added.end());
      m.remaining = m.remaining - 1 + added.size();
      if (m.remaining == 0) ready_.push({position_[d], d});
    }
    p.waiters.clear();
  }

  bool gate(Node& n) {
    if (n.rec.approved_by.empty() && opt_.auto_approve) {
      n.rec.approved_by = user_name();
      n.rec.approved_at = state::now_rfc3339();
      n.rec.auto_approved = true;
      n.rec.approval_note = "--auto-approve";
    }
    if (n.rec.approved_by.empty()) {
      wait_for_approval(n, "");
      return true;
    }
    n.rec.status = "succeeded";
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
    if (n.rec.status != "waiting") {
      n.rec.status = "waiting";
      n.rec.message = why.empty() ? first_line(n.rendered.action.text) : why;
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
      if (field == "status") return expr::Value(r.status);
      auto it = r.outputs.find(key);
      if (it == r.outputs.end()) {
        std::string have;
        for (const auto& [k, val] : r.outputs) have += (have.empty() ? "" : ", ") + k;
        if (r.status == "skipped" && (r.reason == "condition" || r.reason == "selection"))
          throw expr::ExprError{"step '" + id + "' was skipped (" +
                                    (r.message.empty() ? r.reason : r.reason + ": " + r.message) +
                                    "), so it has no output '" + key +
                                    "'; guard the reader with `if: ${{ steps." + id + ".status != 'skipped' }}`",
                                0};
        throw expr::ExprError{"step '" + id + "' has no output '" + key + "'" +
                                  (r.status == "succeeded" || r.status == "skipped"
                                       ? (have.empty() ? " (it wrote none)" : " (it has: " + have + ")")
                                       : " (it has not run: " + r.status + ")"),
                              0};
      }
      return expr::Value(it->second);
    };
    return ctx;
  }

  // ---- one attempt: done_if -> preconditions -> action -> verify ----

  void start_attempt(Node& n) {
    n.has_slot = true;
    ++running_;
    ++n.attempts_here;
    ++n.rec.attempts;
    n.rec.status = "running";
    n.rec.reason.clear();
    n.rec.message.clear();
    n.rec.exit_code.reset();
    if (n.rec.started.empty() || n.attempts_here == 1) n.rec.started = state::now_rfc3339();
    n.t0 = std::chrono::steady_clock::now();
    n.timed_out = false;
    n.log_file = log_path(log_dir_, n.rec.id, n.rec.attempts);
    if (n.rec.id.find('/') != std::string::npos) {  // a for_each item such as src/cloud-api-adaptor
      std::error_code ec;
      fs::create_directories(n.log_file.parent_path(), ec);
    }
    n.output_file = output_dir_ / (std::to_string(n.v) + "-attempt-" + std::to_string(n.rec.attempts) + ".output");
    save(n, "running");  // committed before anything runs
    n.log.open(n.log_file, std::ios::trunc);
    std::ofstream(n.output_file, std::ios::trunc).close();
    if (n.rendered.timeout_seconds > 0) {
      n.timeout = std::make_unique<asio::steady_timer>(io_);
      n.timeout->expires_after(std::chrono::milliseconds(static_cast<long>(n.rendered.timeout_seconds * 1000)));
      n.timeout->async_wait([this, v = n.v](const boost::system::error_code& e) {
        Node& m = nodes_[v];
        if (e || !m.proc) return;
        m.timed_out = true;
        m.proc->kill();
      });
    }
    if (!n.rendered.done_if.empty()) run_stage(n, Node::Stage::DoneIf);
    else next_after_done_if(n);
  }

  void next_after_done_if(Node& n) {
    n.pre = 0;
    if (!n.rendered.preconditions.empty()) run_stage(n, Node::Stage::Pre);
    else run_stage(n, Node::Stage::Action);
  }

  CommandSpec shell_command(const Node& n, const std::string& text) {
    CommandSpec spec;
    if (n.rendered.shell == "sh") spec.argv = {"sh", "-ec", text};
    else spec.argv = {"bash", "-eo", "pipefail", "-c", text};
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
      case Node::Stage::None: return;
    }
    std::error_code ec;
    if (!fs::is_directory(n.rendered.workdir, ec)) {
      attempt_failed(n, "workdir " + n.rendered.workdir + " does not exist", false);
      return;
    }
    spec.workdir = n.rendered.workdir;
    spec.env = environment(n);
    if (stage == Node::Stage::Action && n.rendered.action.kind == model::ActionKind::Uses)
      spec.env["RELENGINE_WITH"] = expr::to_json(n.rendered.action.with);
    n.log << "==> " << label << "\n";
    n.log.flush();
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
      n.proc = std::make_unique<ProcessGroup>(
          io_, spec, [this, v = n.v](std::string_view chunk) { on_output(nodes_[v], chunk); },
          [this, v = n.v](const ExitStatus& st) { on_exit(nodes_[v], st); });
      running_steps_.insert(n.v);
    }
  }

  std::map<std::string, std::string> environment(const Node& n) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : n.rendered.env) env[k] = v;
    env["RELENGINE_RUN_ID"] = run_.id;
    env["RELENGINE_STEP"] = n.rec.id;
    env["RELENGINE_PHASE"] = n.rec.phase;
    env["RELENGINE_ATTEMPT"] = std::to_string(n.rec.attempts);
    env["RELENGINE_OUTPUT"] = fs::absolute(n.output_file).string();
    const auto& node = prep_.graph.node(n.v);
    if (node.item) env["RELENGINE_ITEM"] = expr::to_string(*node.item);
    else env.erase("RELENGINE_ITEM");
    return env;
  }

  void on_output(Node& n, std::string_view chunk) {
    n.partial.append(chunk);
    std::size_t start = 0;
    for (auto nl = n.partial.find('\n'); nl != std::string::npos; nl = n.partial.find('\n', start)) {
      emit_line(n, n.partial.substr(start, nl - start));
      start = nl + 1;
    }
    n.partial.erase(0, start);
  }

  void emit_line(Node& n, const std::string& raw) {
    std::string line = prep_.inputs.mask(raw);
    n.log << line << "\n";
    if (opt_.verbose) console_.step_output(n.rec.id, line);
  }

  void on_exit(Node& n, const ExitStatus& st) {
    if (!n.partial.empty()) emit_line(n, n.partial), n.partial.clear();
    n.log.flush();
    graveyard_.push_back(std::move(n.proc));
    running_steps_.erase(n.v);
    asio::post(io_, [this] { graveyard_.clear(); });
    if (!st.spawned) n.log << st.message << "\n";
    if (interrupting_) {
      interrupted(n);
      return;
    }
    n.rec.exit_code = st.code;
    if (n.timed_out) {
      attempt_failed(n, "timed out after " + format_seconds(n.rendered.timeout_seconds), true);
      return;
    }
    switch (n.stage) {
      case Node::Stage::DoneIf:
        if (st.code == 0) {
          read_outputs(n);
          n.rec.status = "skipped";
          n.rec.reason = "done";
          n.rec.exit_code.reset();
          n.rec.finished = state::now_rfc3339();
          n.rec.fingerprint = plan::fingerprint(n.rendered);
          end_attempt(n);
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
          attempt_failed(n, "precondition failed: " + (message.empty() ? cmd : message), false);
        } else if (++n.pre < n.rendered.preconditions.size()) {
          run_stage(n, Node::Stage::Pre);
        } else {
          run_stage(n, Node::Stage::Action);
        }
        return;
      case Node::Stage::Action:
        if (st.code == 0 && !n.rendered.verify.empty()) run_stage(n, Node::Stage::Verify);
        else if (st.code == 0) succeed(n);
        else attempt_failed(n, st.spawned ? "exit code " + std::to_string(st.code) : st.message, true);
        return;
      case Node::Stage::Verify:
        if (st.code == 0) succeed(n);
        else attempt_failed(n, "verify failed (exit code " + std::to_string(st.code) + ")", true);
        return;
      case Node::Stage::None: return;
    }
  }

  void read_outputs(Node& n) {
    static const std::regex key("^[A-Za-z_][A-Za-z0-9_.-]*$");
    std::ifstream in(n.output_file);
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq == std::string::npos || !std::regex_match(line.substr(0, eq), key)) {
        if (!line.empty()) n.log << "relengine: ignored output line (not KEY=VALUE): " << prep_.inputs.mask(line) << "\n";
        continue;
      }
      n.rec.outputs[line.substr(0, eq)] = prep_.inputs.mask(line.substr(eq + 1));
    }
    std::error_code ec;
    fs::remove(n.output_file, ec);
  }

  void end_attempt(Node& n) {
    n.stage = Node::Stage::None;
    n.timeout.reset();
    n.log.close();
  }

  void succeed(Node& n) {
    read_outputs(n);
    bool unchanged = n.rec.outputs.count("relengine.unchanged") > 0;
    n.rec.outputs.erase("relengine.unchanged");
    if (auto it = n.rec.outputs.find("relengine.message"); it != n.rec.outputs.end()) {
      if (unchanged) n.rec.message = it->second;  // why there was nothing to do
      n.rec.outputs.erase(it);
    }
    n.rec.status = unchanged ? "skipped" : "succeeded";
    n.rec.reason = unchanged ? "unchanged" : "";
    n.rec.finished = state::now_rfc3339();
    n.rec.fingerprint = plan::fingerprint(n.rendered);
    end_attempt(n);
    save(n, n.rec.status);
    finish(n);
    pump();
  }

  void fail(Node& n, const std::string& message) {
    n.rec.status = "failed";
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
    double delay = n.rendered.retry.delay_seconds * std::pow(n.rendered.retry.backoff, n.attempts_here - 1);
    end_attempt(n);
    release(n);
    n.rec.status = "pending";
    n.rec.message = "attempt " + std::to_string(n.rec.attempts) + " failed: " + message + "; retrying in " +
                    format_seconds(delay);
    save(n, "retry", n.rec.message);
    ++retrying_;
    n.retry = std::make_unique<asio::steady_timer>(io_);
    n.retry->expires_after(std::chrono::milliseconds(static_cast<long>(delay * 1000)));
    n.retry->async_wait([this, v = n.v](const boost::system::error_code& ec) {
      Node& m = nodes_[v];
      --retrying_;
      m.retry.reset();
      if (ec || interrupting_) {
        if (interrupting_) interrupted(m);
        return;
      }
      ready_.push({position_[v], v});
      pump();
    });
    pump();
  }

  void interrupted(Node& n) {
    release(n);
    end_attempt(n);
    n.rec.status = "interrupted";
    n.rec.message = "interrupted by a signal";
    n.rec.finished = state::now_rfc3339();
    save(n, "interrupted");
    maybe_finish_interrupt();
  }

  // ---- the end: gates to ask, or the run's outcome ----

  void quiesce() {
    if (finished_) return;
    flush();
    if (!waiting_.empty() && opt_.interactive) {
      bool approved_any = false;
      std::vector<graph::Vertex> still;
      for (auto v : waiting_) {
        Node& n = nodes_[v];
        console_.clear_live();
        std::cout << "\n" << n.rec.id << (n.rendered.gate ? " (manual gate)" : " (irreversible)") << ":\n";
        std::string text = n.rendered.gate ? n.rendered.action.text : describe_action(n);
        std::istringstream lines(text);
        for (std::string l; std::getline(lines, l);) std::cout << "  " << l << "\n";
        std::cout << (n.rendered.gate ? "Done? [y/N] " : "Run it? [y/N] ") << std::flush;
        std::string answer;
        if (!std::getline(std::cin, answer)) answer.clear();
        if (answer == "y" || answer == "Y" || answer == "yes") {
          n.rec.approved_by = user_name();
          n.rec.approved_at = state::now_rfc3339();
          n.rec.approval_note = "confirmed at the prompt";
          n.rec.status = "pending";
          n.rec.message = "confirmed at the prompt by " + n.rec.approved_by;
          save(n, "approved", "confirmed at the prompt");
          ready_.push({position_[v], v});
          approved_any = true;
        } else {
          still.push_back(v);
        }
      }
      waiting_ = still;
      if (approved_any) {
        asio::post(io_, [this] { pump(); });
        return;
      }
    }
    finished_ = true;
    // A failure outranks a waiting gate: the run cannot finish until it is fixed anyway.
    bool real_failure = any_cancelled();
    for (auto v : failed_)
      if (!nodes_[v].step->continue_on_error) real_failure = true;
    std::string status;
    if (real_failure) {
      status = "failed";
      exit_code_ = render_error_ ? kBad : kFailed;
    } else if (!waiting_.empty()) {
      status = "paused";
      exit_code_ = kPaused;
    } else {
      status = "succeeded";
      exit_code_ = kOk;
    }
    flush();
    store_.set_run_status(run_.id, status, status != "paused");
    store_.release_lease(run_.id);
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
      if (n.rec.status == "cancelled") return true;
    return false;
  }

  void report(const std::string& status) {
    std::vector<StepRecord> all;
    for (auto v : prep_.graph.topological_order()) all.push_back(nodes_[v].rec);
    console_.summary(all);
    std::string flag = state_dir_flag(opt_);
    if (!waiting_.empty()) {
      std::cout << "\nRun " << run_.id << (status == "paused" ? " is paused: waiting" : " also waits") << " for approval of\n";
      for (auto v : waiting_) {
        const Node& n = nodes_[v];
        std::cout << "  " << n.rec.id << ": " << n.rec.message << "\n"
                  << "    relengine" << flag << " approve " << run_.id << " " << n.rec.id << " --note \"...\"\n";
      }
      if (status == "paused") std::cout << "then continue with:\n  relengine" << flag << " resume " << run_.id << "\n";
    }
    if (status == "failed") {
      for (auto v : failed_) {
        const Node& n = nodes_[v];
        std::cout << "\nStep " << n.rec.id << " failed: " << n.rec.message << "\n";
        if (!n.log_file.empty())
          for (const auto& l : tail_lines(n.log_file, 20)) std::cout << "  | " << l << "\n";
        if (!n.log_file.empty()) std::cout << "  (full log: relengine" << flag << " logs " << run_.id << " " << n.rec.id << ")\n";
      }
      std::cout << "\nFix the cause, then continue with:\n  relengine" << flag << " resume " << run_.id << "\n";
    } else if (status == "succeeded" && !opt_.quiet) {
      std::cout << "\nRun " << run_.id << " " << status << ".\n";
    }
  }

  void shutdown() {
    signals_.cancel();
    sigchld_.cancel();
    heartbeat_.cancel();
    live_.cancel();
    io_.stop();
  }

  // ---- signals, children, heartbeat ----

  void on_signal(const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (!interrupting_) {
      interrupting_ = true;
      console_.note(std::string("\nrelengine: ") + strsignal(sig) + ": stopping running steps (TERM, then KILL after 5s)");
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
    if (!interrupting_ || finished_ || running_ > 0 || retrying_ > 0) return;
    for (const auto& n : nodes_)
      if (n.proc) return;
    finished_ = true;
    exit_code_ = kInterrupted;
    flush();
    store_.set_run_status(run_.id, "interrupted", true);
    store_.release_lease(run_.id);
    std::vector<StepRecord> all;
    for (auto v : prep_.graph.topological_order()) all.push_back(nodes_[v].rec);
    console_.summary(all);
    std::cout << "\nRun " << run_.id << " interrupted. Continue with:\n  relengine" << state_dir_flag(opt_) << " resume "
              << run_.id << "\n";
    shutdown();
  }

  void watch_children() {
    sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      // Only the steps with a command running (not every node: a 10,000-step run would scan
      // them all for each exit). check_exit may end a step, so iterate over a copy.
      std::vector<graph::Vertex> live(running_steps_.begin(), running_steps_.end());
      for (auto v : live)
        if (nodes_[v].proc) nodes_[v].proc->check_exit();
      watch_children();
    });
  }

  void beat() {
    heartbeat_.expires_after(std::chrono::seconds(5));
    heartbeat_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      try {
        store_.heartbeat(run_.id);
      } catch (const state::StateError&) {
        // A busy database delays one heartbeat; the lease stays ours.
      }
      if (!running_steps_.empty()) check_supervisor();  // replaced within 5 s should it have died
      beat();
    });
  }

  void tick() {
    if (!console_.options().live) return;
    live_.expires_after(std::chrono::seconds(1));
    live_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      std::vector<std::string> names;
      double longest = 0;
      for (const auto& n : nodes_)
        if (n.proc) {
          names.push_back(n.rec.id);
          longest = std::max(longest, std::chrono::duration<double>(std::chrono::steady_clock::now() - n.t0).count());
        }
      if (!names.empty()) console_.live(names, longest);
      tick();
    });
  }

  state::RunStore& store_;
  plan::Prepared& prep_;  // its graph grows when a for_each is expanded at run time
  state::RunRecord run_;
  RunOptions opt_;
  Console console_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::signal_set sigchld_;
  asio::steady_timer heartbeat_;
  asio::steady_timer live_;
  std::deque<Node> nodes_;  // a deque: expansion appends nodes without moving the others
  std::map<graph::Vertex, std::size_t> position_;
  std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready_;
  std::set<std::string> locks_;
  std::map<std::string, std::vector<graph::Vertex>> lock_waiters_;
  std::vector<graph::Vertex> waiting_;
  std::vector<graph::Vertex> failed_;
  std::vector<std::unique_ptr<ProcessGroup>> graveyard_;
  std::set<graph::Vertex> running_steps_;  // steps whose command is running
  std::vector<std::pair<graph::Vertex, CommandSpec>> to_launch_;  // committed with the next launch()
  bool launch_posted_ = false;
  std::vector<state::RunStore::Transition> pending_;  // saved, not yet committed
  bool flush_posted_ = false;
  fs::path log_dir_;
  fs::path output_dir_;
  int jobs_ = 1;
  int running_ = 0;
  int retrying_ = 0;
  bool interrupting_ = false;
  bool finished_ = false;
  bool render_error_ = false;
  int exit_code_ = kOk;
};

int report_diags(const load::Diagnostics& diags) {
  for (const auto& d : diags.sorted()) std::cerr << load::format(d) << "\n";
  std::size_t errors = diags.error_count();
  if (errors) std::cerr << errors << (errors == 1 ? " error" : " errors") << "\n";
  return errors ? kBad : kOk;
}

// Load + graph checks; nullopt after printing the problems. `run`: the run being resumed; when
// the file has the bytes it recorded, validated by this same relengine, the structural checks are
// not repeated (they were half of a 10,000-step resume).
std::optional<model::Playbook> load_checked(const std::string& path, const state::RunRecord* run = nullptr) {
  load::LoadResult r;
  if (!run || run->validated_by != load::validator_id()) {
    r = load::load_file(path);
  } else {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    std::string source = buf.str();
    load::LoadOptions options;
    options.structure_known_valid = in && load::content_hash(source) == run->playbook_hash;
    r = in ? load::load_text(path, source, options) : load::load_file(path);
  }
  load::Diagnostics diags = r.diags;
  if (r.playbook) graph::StepGraph::of_steps(*r.playbook).check(path, diags);
  if (diags.has_errors()) {
    report_diags(diags);
    return std::nullopt;
  }
  return std::move(r.playbook);
}

// Every step rendered once with what is known now: an unsafe value stops the run before anything runs.
bool prerender(const plan::Prepared& prep, const plan::Selection& sel, plan::Plan& plan) {
  load::Diagnostics diags;
  plan = plan::make_plan(prep, sel, diags);
  if (diags.has_errors()) {
    report_diags(diags);
    return false;
  }
  return true;
}

}  // namespace

std::filesystem::path log_path(const std::filesystem::path& run_log_dir, const std::string& step, int attempt) {
  return run_log_dir / (step + ".attempt-" + std::to_string(attempt) + ".log");
}

int start_run(const std::string& playbook_path, const load::InputSources& inputs, const plan::Selection& selection,
              const RunOptions& opt) {
  auto pb = load_checked(playbook_path);
  if (!pb) return kBad;
  load::Diagnostics diags;
  auto prep = plan::prepare(*pb, inputs, diags);
  if (diags.has_errors()) return report_diags(diags);
  plan::Plan plan;
  if (!prerender(prep, selection, plan)) return kBad;
  if (opt.dry_run) {
    std::cout << "Dry run: every action rendered, nothing executed, no state written.\n\n";
    plan::print_plan(std::cout, prep, plan);
    return kOk;
  }
  try {
    auto store = state::RunStore::open(opt.state_dir, true);
    state::RunRecord run;
    run.id = make_run_id();
    run.playbook = playbook_path;
    run.playbook_path = fs::absolute(playbook_path).lexically_normal().string();
    run.playbook_hash = load::content_hash(pb->source);
    run.validated_by = load::validator_id();
    run.name = pb->name.value;
    run.inputs = prep.inputs.public_values();
    run.started = state::now_rfc3339();
    run.selection = selection_json(selection);
    std::vector<StepRecord> records;
    int order = 0;
    for (const auto& ps : plan.steps) {
      StepRecord r;
      r.id = ps.id;
      r.step = ps.step->id.value;
      r.phase = ps.phase->id.value;
      r.order = order++;
      if (!ps.selected) {
        r.status = "skipped";
        r.reason = "selection";
        r.message = ps.unselected_reason;
      }
      records.push_back(r);
    }
    store.create_run(run, records);
    store.acquire_lease(run.id);
    if (!opt.quiet)
      std::cout << "Run " << run.id << ": " << pb->name.value << " (" << plan.steps.size() << " steps), state in "
                << opt.state_dir << "\n";
    Driver driver(store, prep, run, records, opt);
    return driver.drive();
  } catch (const state::StateError& e) {
    std::cerr << "relengine: " << e.what() << "\n";
    return kState;
  }
}

int resume_run(const ResumeRequest& req, const RunOptions& opt) {
  try {
    auto store = state::RunStore::open(opt.state_dir, false);
    auto run = req.run_id.empty() ? store.latest_run() : store.find_run(req.run_id);
    if (!run) {
      std::cerr << "relengine: " << (req.run_id.empty() ? "no runs in " + opt.state_dir : "no run " + req.run_id + " in " + opt.state_dir)
                << "; `relengine runs` lists them\n";
      return kState;
    }
    if (!opt.dry_run) store.acquire_lease(run->id);
    auto release = [&] {
      if (!opt.dry_run) store.release_lease(run->id);
    };
    if (!fs::exists(run->playbook_path)) {
      std::cerr << "relengine: the playbook of run " << run->id << " is gone: " << run->playbook_path << "\n";
      release();
      return kBad;
    }
    auto pb = load_checked(run->playbook_path, &*run);
    if (!pb) {
      release();
      return kBad;
    }
    pb->path = run->playbook;  // messages name it as the user did
    load::InputSources sources;
    sources.recorded = run->inputs;
    sources.sets = req.sets;
    load::Diagnostics diags;
    // The for_each lists this run computed at run time: it keeps the instances it had.
    plan::Expansions expansions = plan::parse_expansions(store.expansions(run->id));
    auto prep = plan::prepare(*pb, sources, diags, &expansions);
    if (diags.has_errors()) {
      release();
      return report_diags(diags);
    }
    // The steps --rerun and --rerun-phase reset: those named and everything downstream.
    auto rerun_set = [&](const graph::StepGraph& g) {
      std::set<graph::Vertex> out;
      for (graph::Vertex v = 0; v < g.size(); ++v) {
        const auto& node = g.node(v);
        bool hit = std::find(req.rerun.begin(), req.rerun.end(), node.id) != req.rerun.end() ||
                   std::find(req.rerun.begin(), req.rerun.end(), node.step->id.value) != req.rerun.end() ||
                   std::find(req.rerun_phases.begin(), req.rerun_phases.end(), node.phase->id.value) !=
                       req.rerun_phases.end();
        if (!hit) continue;
        std::vector<graph::Vertex> work{v};
        while (!work.empty()) {
          auto w = work.back();
          work.pop_back();
          if (!out.insert(w).second) continue;
          for (auto d : g.dependents(w)) work.push_back(d);
        }
      }
      return out;
    };
    // --rerun of an expanded step, or of a step its list reads (upstream, so the rerun reaches the
    // step too), expands it again from what the rerun produces.
    std::set<std::string> reexpand;
    for (auto v : rerun_set(prep.graph)) {
      const auto& node = prep.graph.node(v);
      if (node.item && expansions.count(node.step->id.value)) reexpand.insert(node.step->id.value);
    }
    if (!reexpand.empty()) {
      for (const auto& st : reexpand) expansions.erase(st);
      prep = plan::prepare(*pb, sources, diags, &expansions);
      if (diags.has_errors()) {
        release();
        return report_diags(diags);
      }
    }
    plan::Selection selection = selection_from_json(run->selection);
    plan::Plan plan;
    if (!prerender(prep, selection, plan)) {
      release();
      return kBad;
    }
    const auto& g = prep.graph;
    for (const auto& s : req.rerun)
      if (!g.find(s) && std::none_of(plan.steps.begin(), plan.steps.end(), [&](const auto& p) { return p.step->id.value == s; })) {
        std::cerr << "relengine: --rerun: unknown step '" << s << "'\n";
        release();
        return kBad;
      }
    for (const auto& p : req.rerun_phases)
      if (std::none_of(pb->phases.begin(), pb->phases.end(), [&](const auto& ph) { return ph.id.value == p; })) {
        std::cerr << "relengine: --rerun-phase: unknown phase '" << p << "'\n";
        release();
        return kBad;
      }

    // Reconcile the recorded steps with the playbook as it is now.
    std::map<std::string, StepRecord> recorded;
    for (auto& r : store.steps(run->id)) recorded[r.id] = r;
    std::set<graph::Vertex> rerun = rerun_set(g);
    std::vector<StepRecord> records;
    std::vector<std::pair<std::string, std::string>> to_run;  // id, why
    std::vector<std::string> changed_ids;
    plan::RenderContext ctx;
    ctx.prepared = &prep;
    ctx.run_id = run->id;
    ctx.steps = [&](const std::string& id, const std::string& field, const std::string& key) -> std::optional<expr::Value> {
      auto it = recorded.find(id);
      if (it == recorded.end()) return std::nullopt;
      if (field == "status") return expr::Value(it->second.status);
      auto o = it->second.outputs.find(key);
      if (o == it->second.outputs.end()) throw expr::ExprError{"no output " + key, 0};
      return expr::Value(o->second);
    };
    int order = 0;
    for (const auto& ps : plan.steps) {
      StepRecord r;
      bool known = recorded.count(ps.id) > 0;
      if (known) r = recorded[ps.id];
      else r.id = ps.id, r.step = ps.step->id.value, r.phase = ps.phase->id.value;
      r.order = order++;
      std::string why;
      if (!known) {
        why = "new step";
        r.status = ps.selected ? "pending" : "skipped";
        r.reason = ps.selected ? "" : "selection";
      } else if (!ps.selected) {
        r.status = "skipped", r.reason = "selection", r.message = ps.unselected_reason;
      } else if (rerun.count(ps.vertex)) {
        why = "rerun";
        r.approved_by.clear(), r.approved_at.clear(), r.approval_note.clear(), r.auto_approved = false;
      } else if (r.status == "running") {
        why = "interrupted (its driver died)";
        r.message = "interrupted: the engine stopped while it ran";
        store.save_step(run->id, r, "interrupted", r.message);
      } else if (r.status == "failed" || r.status == "interrupted" || r.status == "cancelled" || r.status == "pending") {
        why = r.status;
      } else if (r.status == "skipped" && r.reason == "condition") {
        why = "condition re-evaluated";
      } else if ((r.status == "succeeded" || (r.status == "skipped" && r.reason != "selection")) && !r.fingerprint.empty()) {
        load::Diagnostics ignored;
        auto rendered = plan::render_step(ctx, ps.vertex, ignored);
        if (rendered.render_failed || plan::fingerprint(rendered) != r.fingerprint) why = "changed since it ran";
      }
      if (!why.empty() && r.status != "waiting") {
        if (known) r.status = "pending", r.reason.clear();
        to_run.emplace_back(r.id, why);
      } else if (r.status == "waiting") {
        to_run.emplace_back(r.id, r.approved_by.empty() ? "waiting for approval" : "approved by " + r.approved_by);
      }
      records.push_back(r);
    }
    std::set<std::string> current;
    for (const auto& r : records) current.insert(r.id);
    std::vector<std::string> removed;
    for (const auto& [id, r] : recorded)
      if (!current.count(id)) removed.push_back(id);

    std::cout << "Resuming run " << run->id << " (" << run->name << ", " << run->status << ")\n";
    for (const auto& id : removed) {
      bool again = reexpand.count(recorded[id].step) > 0;
      std::cout << "  drop " << id << (again ? " (its for_each is expanded again after the rerun)" : " (no longer in the playbook)") << "\n";
    }
    if (to_run.empty()) std::cout << "  nothing left to run\n";
    std::size_t not_started = 0;
    for (const auto& [id, why] : to_run) {
      if (why == "pending") {
        ++not_started;
        continue;
      }
      std::cout << "  run  " << id << " (" << why << ")\n";
    }
    if (not_started) std::cout << "  then " << not_started << " step" << (not_started == 1 ? "" : "s") << " not started yet\n";
    if (opt.dry_run) return kOk;

    for (const auto& st : reexpand) store.forget_expansion(run->id, st);
    for (const auto& id : removed) store.remove_step(run->id, id);
    std::vector<state::RunStore::Transition> batch;  // one transaction, not one fsync per step
    for (const auto& r : records) {
      auto it = recorded.find(r.id);
      if (it == recorded.end()) batch.push_back({r, "added", ""});
      else if (it->second.status != r.status || r.approved_by != it->second.approved_by) batch.push_back({r, "reset", ""});
      else if (it->second.order != r.order) batch.push_back({r, "", ""});
    }
    store.save_steps(run->id, batch);
    store.update_run_inputs(run->id, prep.inputs.public_values(), load::content_hash(pb->source), load::validator_id());
    store.set_run_status(run->id, "running", false);
    Driver driver(store, prep, *run, records, opt);
    return driver.drive();
  } catch (const state::StateError& e) {
    std::cerr << "relengine: " << e.what() << "\n";
    return kState;
  }
}

}  // namespace relengine::exec
