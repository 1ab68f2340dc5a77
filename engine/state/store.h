// The durable record of runs: one SQLite database (state.db: WAL, synchronous=FULL) per state
// directory, with runs, their steps, an append-only event journal and each run's lease.
// All writes go through RunStore (exec/session and exec/builder for runs, `approve` for approvals);
// read by status, runs, logs and graph (a dry run opens it read-only).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "state/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace relengine::state {

// A problem with the state itself (exit 4): unreadable, corrupt, newer, locked, not found.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StepRecord {
  std::string id;    // instance id: "tag[api]"
  std::string step;  // step id in the playbook: "tag"
  std::string phase;
  StepStatus status = StepStatus::Pending;
  std::string reason;  // for skipped: condition | done | unchanged | selection
  int attempts = 0;
  std::string started;  // RFC 3339, "" when not yet
  std::string finished;
  std::optional<int> exit_code;
  std::map<std::string, std::string> outputs;
  std::string message;
  std::string fingerprint;
  std::string approved_by;  // gates and irreversible steps
  std::string approved_at;
  std::string approval_note;
  bool auto_approved = false;
  std::string approved_fingerprint;  // the fingerprint of what was approved; another voids the approval
  int order = 0;                     // position in the run's execution order
};

struct RunRecord {
  std::string id;
  std::string playbook;       // as given on the command line
  std::string playbook_path;  // absolute, to reload on resume
  std::string playbook_hash;  // of the playbook file's bytes
  std::string validated_by;   // the relengine (version and schema) that validated those bytes
  std::string name;
  std::map<std::string, std::string> inputs;  // non-secret inputs
  RunStatus status = RunStatus::Running;
  std::string started;
  std::string finished;
  std::string selection;  // JSON of --phase/--from/--with-deps
  int lease_pid = 0;
  std::string lease_host;
  std::int64_t lease_start = 0;      // the lease owner's process start time (pid reuse guard)
  std::int64_t lease_heartbeat = 0;  // unix seconds
};

struct Event {
  std::int64_t seq = 0;
  std::string run_id;
  std::string step;
  std::string time;
  std::string transition;
  int attempt = 0;
  std::string message;
};

// Current time as RFC 3339 UTC with milliseconds.
std::string now_rfc3339();

class RunStore {
 public:
  static constexpr int kSchemaVersion = 4;

  // Opens STATE_DIR/state.db. `create`: make the directory and database if absent.
  // Throws StateError: not found (when !create), unreadable, corrupt, newer, locked.
  // An existing database is checked read-only first and never rewritten when it is bad.
  static RunStore open(const std::string& state_dir, bool create);
  // Opens an existing STATE_DIR/state.db for reading only, creating no file and writing nothing
  // (a dry run): no migration (an older schema is refused with what to do), no WAL switch.
  static RunStore open_read_only(const std::string& state_dir);
  // For the commands that only read (status, runs, logs, graph --run): read-only, so a writer's
  // lock does not make them wait; a state of an older schema is migrated first (a normal open).
  static RunStore open_for_reading(const std::string& state_dir);

  RunStore(RunStore&& other) noexcept;
  RunStore& operator=(RunStore&&) = delete;
  RunStore(const RunStore&) = delete;
  ~RunStore();

  const std::string& dir() const { return dir_; }

  void create_run(const RunRecord& run, const std::vector<StepRecord>& steps);
  std::optional<RunRecord> find_run(const std::string& id);
  std::optional<RunRecord> latest_run();
  std::vector<RunRecord> runs();  // most recent first
  std::vector<StepRecord> steps(const std::string& run_id);
  std::vector<Event> events(const std::string& run_id);

  // One transaction: the step's new record and an event for the transition.
  void save_step(const std::string& run_id, const StepRecord& step, const std::string& transition,
                 const std::string& message = "");
  void add_step(const std::string& run_id, const StepRecord& step);
  // Many step transitions in one transaction (one fsync): each record is written, with an event
  // when its transition is not empty.
  struct Transition {
    StepRecord step;
    std::string transition;
    std::string message;
  };
  void save_steps(const std::string& run_id, const std::vector<Transition>& steps);
  void remove_step(const std::string& run_id, const std::string& step_id);
  void set_run_status(const std::string& run_id, RunStatus status, bool finished);
  void update_run_inputs(const std::string& run_id, const std::map<std::string, std::string>& inputs,
                         const std::string& playbook_hash, const std::string& validated_by);

  // A for_each whose list is only known at run time: records the items (JSON) and, in the same
  // transaction, replaces the placeholder record `placeholder` (ID[*]) by the instances' records.
  void record_expansion(const std::string& run_id, const std::string& step, const std::string& items,
                        const std::string& placeholder, const std::vector<StepRecord>& instances);
  std::map<std::string, std::string> expansions(const std::string& run_id);  // step id -> items (JSON)
  void forget_expansion(const std::string& run_id, const std::string& step);

  // Lease: only one live process drives a run. Throws StateError naming pid and host when a
  // live process holds it; takes over a lease whose owner is dead (same host) or silent.
  void acquire_lease(const std::string& run_id);
  void heartbeat(const std::string& run_id);
  void release_lease(const std::string& run_id);

 private:
  RunStore(std::string dir, sqlite3* db);
  void exec(const char* sql);
  void migrate();

  sqlite3_stmt* prepared(const char* sql);  // prepared once per store, reset after each use

  std::string dir_;
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> prepared_;
};

// Who records an approval: $USER, else $LOGNAME, else "uid N". The one place that decides it.
std::string user_name();
// What to add to a printed relengine command so that it finds this state: " --state-dir DIR", or ""
// when DIR is the default ($RELENGINE_STATE_DIR, else .relengine).
std::string state_dir_hint(const std::string& dir);

// Is the run's lease held by another live process (this host: its pid alive and the same process;
// another host: a heartbeat younger than 60 s)?
bool lease_held_elsewhere(const RunRecord& run);

// This host's name, and a process's start time (from /proc; 0 when unknown).
std::string host_name();
std::int64_t process_start_time(int pid);
// Is process `pid` alive (not a zombie) and, when `start_time` is given, the same process?
bool process_alive(int pid, std::int64_t start_time = 0);

}  // namespace relengine::state
