// The durable record of runs: runs, their steps, an append-only event journal, each run's lease
// and log, behind the RunStore interface (state/sqlite_store.h is the embedded implementation).
// All writes go through a RunStore (exec/session and exec/builder for runs, `approve` for
// approvals); read by status, runs, logs and graph (a dry run opens it read-only).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "state/status.h"

namespace relengine::state {

// A problem with the state itself (exit 4): unreadable, corrupt, newer, locked, not found.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The store holds no runs (no state.db, no tables): `runs` says so, the others exit 4.
class StateNotFound : public StateError {
 public:
  using StateError::StateError;
};
// This driver's lease of the run is gone (another driver took it over while this one was silent:
// stopped, partitioned): it must stop at once, recording nothing more. Every write of a driver
// checks its lease in the write's own transaction (fencing).
class LeaseLost : public StateError {
 public:
  using StateError::StateError;
};
// The store cannot be written any more in this process (a PostgreSQL connection lost): the
// driver stops; `resume` once the store is back.
class StoreLost : public StateError {
 public:
  using StateError::StateError;
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
  std::string approved_host;         // the machine the approval came from
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

// Where a run's log goes and how it is read back: one writer per engine and run. What is added is
// queued and written by write() (once per turn of the event loop, and before a command starts).
class LogWriter {
 public:
  virtual ~LogWriter() = default;
  // Queues `text`, a piece of the output of attempt `attempt` of step `step`.
  virtual void add(const std::string& step, int attempt, const std::string& text) = 0;
  // Writes what was queued; false (and why) when the store cannot take it.
  virtual bool write(std::string& error) = 0;
  // A position in the run's log: what is added after it reads back with read(step, mark).
  virtual std::uint64_t mark() const = 0;
  // What `step`'s attempts wrote from `from` on, by attempt number.
  virtual std::map<int, std::string> read(const std::string& step, std::uint64_t from) = 0;
};

// How a store is opened.
enum class OpenMode {
  Create,      // run: create the store (directory, database, schema) when it is absent
  Existing,    // resume, approve: the store must exist; an older schema is migrated
  ReadOnly,    // a dry run: reads only, creates nothing, writes nothing (an older schema is refused)
  ForReading,  // status, runs, logs, graph --run: reads without waiting for a writer's lock (an
               // older schema is migrated first)
};

// The durable record of runs, behind one interface (docs/architecture.md, "State"): the embedded
// SQLite store (a state directory) or a PostgreSQL database. Nothing above state/ knows which one
// it has. Every method that writes commits before it returns: the engine acts only on what is
// recorded. Problems with the store throw StateError (exit 4).
class RunStore {
 public:
  static constexpr int kSchemaVersion = 5;

  virtual ~RunStore() = default;

  // The store as messages name it: the state directory, or the URL with its password masked.
  virtual std::string location() const = 0;

  // Records a new run and its steps in one transaction; false, writing nothing, when a run with
  // this id exists already (two drivers that made the same id at once: one of them gets false).
  virtual bool create_run(const RunRecord& run, const std::vector<StepRecord>& steps) = 0;
  virtual std::optional<RunRecord> find_run(const std::string& id) = 0;
  virtual std::optional<RunRecord> latest_run() = 0;
  virtual std::vector<RunRecord> runs() = 0;  // most recent first
  virtual std::vector<StepRecord> steps(const std::string& run_id) = 0;
  virtual std::vector<Event> events(const std::string& run_id) = 0;

  // One transaction: the step's new record and an event for the transition.
  virtual void save_step(const std::string& run_id, const StepRecord& step, const std::string& transition,
                         const std::string& message = "") = 0;
  virtual void add_step(const std::string& run_id, const StepRecord& step) = 0;
  // Many step transitions in one transaction (one fsync): each record is written, with an event
  // when its transition is not empty.
  struct Transition {
    StepRecord step;
    std::string transition;
    std::string message;
  };
  virtual void save_steps(const std::string& run_id, const std::vector<Transition>& steps) = 0;
  virtual void remove_step(const std::string& run_id, const std::string& step_id) = 0;
  virtual void set_run_status(const std::string& run_id, RunStatus status, bool finished) = 0;
  virtual void update_run_inputs(const std::string& run_id, const std::map<std::string, std::string>& inputs,
                                 const std::string& playbook_hash, const std::string& validated_by) = 0;
  // A run continued with another selection (`run --run-id` of an existing run, one phase at a time),
  // and the playbook file it was continued from (the same playbook, maybe at another path).
  virtual void update_run_selection(const std::string& run_id, const std::string& selection,
                                    const std::string& playbook, const std::string& playbook_path) = 0;

  // A for_each whose list is only known at run time: records the items (JSON) and, in the same
  // transaction, replaces the placeholder record `placeholder` (ID[*]) by the instances' records.
  virtual void record_expansion(const std::string& run_id, const std::string& step, const std::string& items,
                                const std::string& placeholder, const std::vector<StepRecord>& instances) = 0;
  virtual std::map<std::string, std::string> expansions(const std::string& run_id) = 0;  // step id -> items (JSON)
  virtual void forget_expansion(const std::string& run_id, const std::string& step) = 0;

  // Lease: only one live process drives a run. Throws StateError naming pid and host when a
  // live process holds it; takes over a lease whose owner is dead (same host) or silent.
  virtual void acquire_lease(const std::string& run_id) = 0;
  virtual void heartbeat(const std::string& run_id) = 0;
  virtual void release_lease(const std::string& run_id) = 0;

  // An approval of a waiting step, from any machine (`relengine approve`): recorded, with an
  // "approved" event, only if the step is still waiting as `approval.fingerprint` says it was
  // (false otherwise: it was approved, cancelled or rendered anew meanwhile). A driver waiting for
  // it (--wait) is woken: PostgreSQL's NOTIFY, or its next look at the store.
  struct Approval {
    std::string by, host, at, note, fingerprint;
  };
  virtual bool approve(const std::string& run_id, const std::string& step_id, const Approval& approval) = 0;
  // A descriptor that becomes readable when an approval of `run_id` may have been recorded
  // (PostgreSQL: LISTEN), after which consume_wakeups() is called; -1: the driver looks every
  // poll_interval_ms() instead (SQLite).
  virtual int approval_wakeup_fd(const std::string& run_id) {
    (void)run_id;
    return -1;
  }
  virtual void consume_wakeups() {}
  virtual int poll_interval_ms() const { return 500; }

  // The run's log: a writer for this engine (nullptr and why when it cannot be kept: every
  // attempt then fails at its start with the reason), and every attempt of `step` read back.
  virtual std::unique_ptr<LogWriter> open_log(const std::string& run_id, std::string& error) = 0;
  virtual std::map<int, std::string> read_log(const std::string& run_id, const std::string& step) = 0;
};

// Opens the store that `location` names (docs/cli.md, "--state"): a PostgreSQL URL
// (postgresql://... or postgres://..., state/pg_store.h), else a directory path (the SQLite store,
// STATE_DIR/state.db). Throws StateError: not found (StateNotFound, unless Create), unreachable,
// unreadable, corrupt, newer, locked.
std::unique_ptr<RunStore> open_store(const std::string& location, OpenMode mode);

// Seconds since the epoch.
std::int64_t unix_now();

// How every store keeps a record's maps (inputs, outputs): a JSON object of strings.
std::string to_json_map(const std::map<std::string, std::string>& m);
std::map<std::string, std::string> from_json_map(const std::string& text);
// A status as stored; a name this relengine does not know means a damaged or foreign store
// (StateError).
StepStatus stored_step_status(const std::string& text);
RunStatus stored_run_status(const std::string& text);

// Who records an approval: $USER, else $LOGNAME, else "uid N". The one place that decides it.
std::string user_name();
// The store used when --state is not given: $RELENGINE_STATE, else $RELENGINE_STATE_DIR, else
// .relengine.
std::string default_location();
// What to add to a printed relengine command so that it finds this store: " --state LOCATION"
// (" --state-dir DIR" for a directory; a URL's password masked), or "" when it is the default.
std::string state_dir_hint(const std::string& location);

// Is the run's lease held by another live process (this host: its pid alive and the same process;
// another host: a heartbeat younger than the lease's time to live)?
bool lease_held_elsewhere(const RunRecord& run);
// A run as status, runs, report and serve show it: a run whose driver died keeps status `running`
// in the store, and is shown `interrupted` (its driver on another host: its lease expired).
RunStatus shown_status(const RunRecord& run);
// What a driver is told when another holds the run's lease (StateError, exit 4).
std::string lease_busy_message(const std::string& run_id, const RunRecord& lease);
// What a driver that lost its lease is told (LeaseLost): who holds the run now.
std::string lease_lost_message(const std::string& run_id, const RunRecord& holder);
// The journal's note when a lease is taken from an owner that died or went silent (the message of
// a "lease taken over" event), or "" when the lease was free or already ours.
std::string takeover_note(const RunRecord& lease);
// How long a lease lives without a heartbeat (a driver beats every 5 s): $RELENGINE_LEASE_TTL
// seconds (10 to 86400), else 60.
int lease_ttl_seconds();

// This host's name ($RELENGINE_HOST, else the system's), and a process's start time (from /proc;
// 0 when unknown).
std::string host_name();
std::int64_t process_start_time(int pid);
// Is process `pid` alive (not a zombie) and, when `start_time` is given, the same process?
bool process_alive(int pid, std::int64_t start_time = 0);

}  // namespace relengine::state
