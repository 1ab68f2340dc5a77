#include "state/pg_store.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <utility>

namespace relengine::state {

namespace {

// The tables, in the schema the connection's search_path names (docs/team.md, "The database").
// As in the SQLite store, with PostgreSQL's types; the step logs are chunks in `logs`.
const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  playbook TEXT NOT NULL,
  playbook_path TEXT NOT NULL,
  playbook_hash TEXT NOT NULL,
  name TEXT NOT NULL,
  inputs TEXT NOT NULL,
  status TEXT NOT NULL,
  started TEXT NOT NULL,
  finished TEXT NOT NULL DEFAULT '',
  selection TEXT NOT NULL DEFAULT '',
  lease_pid BIGINT NOT NULL DEFAULT 0,
  lease_host TEXT NOT NULL DEFAULT '',
  lease_start BIGINT NOT NULL DEFAULT 0,
  lease_heartbeat BIGINT NOT NULL DEFAULT 0,
  validated_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL REFERENCES runs(id),
  id TEXT NOT NULL,
  step TEXT NOT NULL,
  phase TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  started TEXT NOT NULL DEFAULT '',
  finished TEXT NOT NULL DEFAULT '',
  exit_code INTEGER,
  outputs TEXT NOT NULL DEFAULT '{}',
  message TEXT NOT NULL DEFAULT '',
  fingerprint TEXT NOT NULL DEFAULT '',
  approved_by TEXT NOT NULL DEFAULT '',
  approved_at TEXT NOT NULL DEFAULT '',
  approval_note TEXT NOT NULL DEFAULT '',
  auto_approved BOOLEAN NOT NULL DEFAULT FALSE,
  ord INTEGER NOT NULL DEFAULT 0,
  approved_fingerprint TEXT NOT NULL DEFAULT '',
  approved_host TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, id)
);
CREATE TABLE IF NOT EXISTS events (
  seq BIGSERIAL PRIMARY KEY,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  time TEXT NOT NULL,
  transition TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, seq);
CREATE TABLE IF NOT EXISTS expansions (
  run_id TEXT NOT NULL REFERENCES runs(id),
  step TEXT NOT NULL,
  items TEXT NOT NULL,
  time TEXT NOT NULL,
  PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS logs (
  seq BIGSERIAL PRIMARY KEY,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  chunk BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_run_step ON logs(run_id, step, seq);
)SQL";

const char* kStepColumns =
    "id, step, phase, status, reason, attempts, started, finished, exit_code, outputs, message, fingerprint, "
    "approved_by, approved_at, approval_note, auto_approved, ord, approved_fingerprint, approved_host";
const char* kRunColumns =
    "id, playbook, playbook_path, playbook_hash, name, inputs, status, started, finished, selection, lease_pid, "
    "lease_host, lease_start, lease_heartbeat, validated_by";

// The migration runs under this advisory lock: two drivers starting on an empty database at once
// create the tables once.
constexpr long long kMigrationLock = 0x72656c656e67696eLL;  // "relengin"
// The channel of approvals (payload: the run's id).
const char* const kChannel = "relengine_approvals";

std::string text(const pqxx::field& f) { return f.is_null() ? std::string() : f.as<std::string>(); }
std::int64_t integer(const pqxx::field& f) { return f.is_null() ? 0 : f.as<std::int64_t>(); }

StepRecord read_step(const pqxx::row& r) {
  StepRecord s;
  s.id = text(r[0]);
  s.step = text(r[1]);
  s.phase = text(r[2]);
  s.status = stored_step_status(text(r[3]));
  s.reason = text(r[4]);
  s.attempts = static_cast<int>(integer(r[5]));
  s.started = text(r[6]);
  s.finished = text(r[7]);
  if (!r[8].is_null()) s.exit_code = static_cast<int>(integer(r[8]));
  s.outputs = from_json_map(text(r[9]));
  s.message = text(r[10]);
  s.fingerprint = text(r[11]);
  s.approved_by = text(r[12]);
  s.approved_at = text(r[13]);
  s.approval_note = text(r[14]);
  s.auto_approved = r[15].as<bool>();
  s.order = static_cast<int>(integer(r[16]));
  s.approved_fingerprint = text(r[17]);
  s.approved_host = text(r[18]);
  return s;
}

RunRecord read_run(const pqxx::row& r) {
  RunRecord run;
  run.id = text(r[0]);
  run.playbook = text(r[1]);
  run.playbook_path = text(r[2]);
  run.playbook_hash = text(r[3]);
  run.name = text(r[4]);
  run.inputs = from_json_map(text(r[5]));
  run.status = stored_run_status(text(r[6]));
  run.started = text(r[7]);
  run.finished = text(r[8]);
  run.selection = text(r[9]);
  run.lease_pid = static_cast<int>(integer(r[10]));
  run.lease_host = text(r[11]);
  run.lease_start = integer(r[12]);
  run.lease_heartbeat = integer(r[13]);
  run.validated_by = text(r[14]);
  return run;
}

// The password of a libpq URL or connection string, if it names one ("" otherwise).
std::string password_of(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &err);
  if (err) PQfreemem(err);
  std::string password;
  for (PQconninfoOption* o = options; o && o->keyword; ++o)
    if (std::string(o->keyword) == "password" && o->val) password = o->val;
  if (options) PQconninfoFree(options);
  return password;
}

// `message` with every occurrence of `password` replaced by *** (libpq may quote a connection
// string back), and without trailing newlines.
std::string without_password(std::string message, const std::string& password) {
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (password.empty()) return message;
  for (auto at = message.find(password); at != std::string::npos; at = message.find(password, at + 3))
    message.replace(at, password.size(), "***");
  return message;
}

class PgStore;

// A run's log as rows of `logs`: one insert per record, the records of one write() in one
// transaction, without waiting for the disk (synchronous_commit off for it alone: like the
// SQLite store's log file, a log is for people; the steps and events are the record).
class PgLogWriter final : public LogWriter {
 public:
  PgLogWriter(pqxx::connection& conn, std::string run_id, std::int64_t last, std::string password)
      : conn_(conn), run_(std::move(run_id)), last_(last), password_(std::move(password)) {}
  void add(const std::string& step, int attempt, const std::string& text) override {
    if (!text.empty()) queue_.push_back({step, attempt, text});
  }
  bool write(std::string& error) override;
  std::uint64_t mark() const override { return static_cast<std::uint64_t>(last_); }
  std::map<int, std::string> read(const std::string& step, std::uint64_t from) override;

 private:
  struct Record {
    std::string step;
    int attempt;
    std::string text;
  };
  pqxx::connection& conn_;
  std::string run_;
  std::int64_t last_;     // the highest seq written so far
  std::string password_;  // never in an error message
  std::vector<Record> queue_;
};

std::map<int, std::string> read_logs(pqxx::transaction_base& tx, const std::string& run_id, const std::string& step,
                                     std::int64_t after) {
  std::map<int, std::string> out;
  for (const auto& row :
       tx.exec_params("SELECT attempt, chunk FROM logs WHERE run_id = $1 AND step = $2 AND seq > $3 ORDER BY seq",
                      run_id, step, after))
    out[static_cast<int>(integer(row[0]))] += pqxx::binarystring(row[1]).str();
  return out;
}

class PgStore final : public RunStore {
 public:
  PgStore(const std::string& url, OpenMode mode)
      : url_(url), shown_(masked_location(url)), password_(password_of(url)) {
    try {
      conn_ = std::make_unique<pqxx::connection>(url_);
    } catch (const std::exception& e) {
      throw StateError("cannot connect to the PostgreSQL store " + shown_ + ": " + mask(e.what()));
    }
    guard([&] { prepare(mode); });
  }

  std::string location() const override { return shown_; }

  bool create_run(const RunRecord& run, const std::vector<StepRecord>& steps) override {
    bool created = false;
    write([&](pqxx::work& tx) {
      auto r = tx.exec_params(
          "INSERT INTO runs(id, playbook, playbook_path, playbook_hash, name, inputs, status, started, selection, "
          "validated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
          run.id, run.playbook, run.playbook_path, run.playbook_hash, run.name, to_json_map(run.inputs),
          std::string(name(run.status)), run.started, run.selection, run.validated_by);
      created = r.affected_rows() == 1;
      if (!created) return;  // the id is taken: an empty transaction, nothing written
      for (const auto& st : steps) upsert_step(tx, run.id, st);
      event(tx, run.id, "", run.started, "run started", 0, "");
    });
    return created;
  }
  std::optional<RunRecord> find_run(const std::string& id) override {
    return read([&](pqxx::transaction_base& tx) -> std::optional<RunRecord> {
      auto r = tx.exec_params(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = $1", id);
      if (r.empty()) return std::nullopt;
      return read_run(r[0]);
    });
  }
  std::optional<RunRecord> latest_run() override {
    return read([&](pqxx::transaction_base& tx) -> std::optional<RunRecord> {
      auto r = tx.exec(std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY started DESC, id DESC LIMIT 1");
      if (r.empty()) return std::nullopt;
      return read_run(r[0]);
    });
  }
  std::vector<RunRecord> runs() override {
    return read([&](pqxx::transaction_base& tx) {
      std::vector<RunRecord> out;
      for (const auto& row :
           tx.exec(std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY started DESC, id DESC"))
        out.push_back(read_run(row));
      return out;
    });
  }
  std::vector<StepRecord> steps(const std::string& run_id) override {
    return read([&](pqxx::transaction_base& tx) {
      std::vector<StepRecord> out;
      for (const auto& row : tx.exec_params(
               std::string("SELECT ") + kStepColumns + " FROM steps WHERE run_id = $1 ORDER BY ord, id", run_id))
        out.push_back(read_step(row));
      return out;
    });
  }
  std::vector<Event> events(const std::string& run_id) override {
    return read([&](pqxx::transaction_base& tx) {
      std::vector<Event> out;
      for (const auto& row : tx.exec_params("SELECT seq, run_id, step, time, transition, attempt, message FROM events "
                                            "WHERE run_id = $1 ORDER BY seq",
                                            run_id))
        out.push_back({integer(row[0]), text(row[1]), text(row[2]), text(row[3]), text(row[4]),
                       static_cast<int>(integer(row[5])), text(row[6])});
      return out;
    });
  }

  void save_step(const std::string& run_id, const StepRecord& step, const std::string& transition,
                 const std::string& message = "") override {
    write([&](pqxx::work& tx) {
      fence(tx, run_id);
      upsert_step(tx, run_id, step);
      event(tx, run_id, step.id, now_rfc3339(), transition, step.attempts, message);
    });
  }
  void add_step(const std::string& run_id, const StepRecord& step) override {
    write([&](pqxx::work& tx) { upsert_step(tx, run_id, step); });
  }
  void save_steps(const std::string& run_id, const std::vector<Transition>& steps) override {
    if (steps.empty()) return;
    write([&](pqxx::work& tx) {
      fence(tx, run_id);
      const std::string now = now_rfc3339();
      for (const auto& t : steps) {
        upsert_step(tx, run_id, t.step);
        if (!t.transition.empty()) event(tx, run_id, t.step.id, now, t.transition, t.step.attempts, t.message);
      }
    });
  }
  void remove_step(const std::string& run_id, const std::string& step_id) override {
    write([&](pqxx::work& tx) {
      fence(tx, run_id);
      tx.exec_params("DELETE FROM steps WHERE run_id = $1 AND id = $2", run_id, step_id);
      event(tx, run_id, step_id, now_rfc3339(), "removed", 0, "");
    });
  }
  void set_run_status(const std::string& run_id, RunStatus run_status, bool finished) override {
    write([&](pqxx::work& tx) {
      fence(tx, run_id);
      const std::string status(name(run_status)), now = now_rfc3339();
      tx.exec_params("UPDATE runs SET status = $1, finished = $2 WHERE id = $3", status, finished ? now : std::string(),
                     run_id);
      event(tx, run_id, "", now, "run " + status, 0, "");
    });
  }
  void update_run_inputs(const std::string& run_id, const std::map<std::string, std::string>& inputs,
                         const std::string& playbook_hash, const std::string& validated_by) override {
    write([&](pqxx::work& tx) {
      fence(tx, run_id);
      tx.exec_params("UPDATE runs SET inputs = $1, playbook_hash = $2, validated_by = $3 WHERE id = $4",
                     to_json_map(inputs), playbook_hash, validated_by, run_id);
    });
  }

  void update_run_selection(const std::string& run_id, const std::string& selection, const std::string& playbook,
                            const std::string& playbook_path) override {
    write([&](pqxx::work& tx) {
      fence(tx, run_id);
      tx.exec_params("UPDATE runs SET selection = $1, playbook = $2, playbook_path = $3 WHERE id = $4", selection,
                     playbook, playbook_path, run_id);
    });
  }

  void record_expansion(const std::string& run_id, const std::string& step, const std::string& items,
                        const std::string& placeholder, const std::vector<StepRecord>& instances) override {
    write([&](pqxx::work& tx) {
      fence(tx, run_id);
      const std::string now = now_rfc3339();
      tx.exec_params(
          "INSERT INTO expansions(run_id, step, items, time) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (run_id, step) DO UPDATE SET items = excluded.items, time = excluded.time",
          run_id, step, items, now);
      tx.exec_params("DELETE FROM steps WHERE run_id = $1 AND id = $2", run_id, placeholder);
      event(tx, run_id, placeholder, now, "expanded", 0, items);
      for (const auto& st : instances) {
        upsert_step(tx, run_id, st);
        event(tx, run_id, st.id, now, "added", 0, "");
      }
    });
  }
  std::map<std::string, std::string> expansions(const std::string& run_id) override {
    return read([&](pqxx::transaction_base& tx) {
      std::map<std::string, std::string> out;
      for (const auto& row : tx.exec_params("SELECT step, items FROM expansions WHERE run_id = $1", run_id))
        out[text(row[0])] = text(row[1]);
      return out;
    });
  }
  void forget_expansion(const std::string& run_id, const std::string& step) override {
    write([&](pqxx::work& tx) {
      fence(tx, run_id);
      tx.exec_params("DELETE FROM expansions WHERE run_id = $1 AND step = $2", run_id, step);
      event(tx, run_id, step, now_rfc3339(), "expansion forgotten", 0, "");
    });
  }

  // The lease, under the run's row lock (SELECT ... FOR UPDATE): two drivers asking at once are
  // served one after the other, and the second sees the first's lease.
  void acquire_lease(const std::string& run_id) override {
    const std::string me = host_name();
    write([&](pqxx::work& tx) {
      auto r = tx.exec_params(
          "SELECT lease_pid, lease_host, lease_start, lease_heartbeat FROM runs WHERE id = $1 FOR UPDATE", run_id);
      if (r.empty()) throw StateError("no run " + run_id + " in " + shown_);
      RunRecord lease;
      lease.lease_pid = static_cast<int>(integer(r[0][0]));
      lease.lease_host = text(r[0][1]);
      lease.lease_start = integer(r[0][2]);
      lease.lease_heartbeat = integer(r[0][3]);
      if (lease_held_elsewhere(lease)) throw StateError(lease_busy_message(run_id, lease));
      const std::int64_t now = unix_now();
      if (std::string note = takeover_note(lease); !note.empty())
        event(tx, run_id, "", now_rfc3339(), "lease taken over", 0, note);
      tx.exec_params(
          "UPDATE runs SET lease_pid = $1, lease_host = $2, lease_start = $3, lease_heartbeat = $4 WHERE id = $5",
          static_cast<std::int64_t>(getpid()), me, process_start_time(getpid()), now, run_id);
    });
    leased_.insert(run_id);
    // This driver as the lease records it: what heartbeat, release and fence() compare it with
    // (a machine renamed meanwhile still holds the lease, and beats for it).
    lease_pid_ = static_cast<int>(getpid()), lease_host_ = me;
  }
  void heartbeat(const std::string& run_id) override {
    if (!leased_.count(run_id)) return;  // not this store's lease: nothing to beat for
    write([&](pqxx::work& tx) {
      auto r =
          tx.exec_params("UPDATE runs SET lease_heartbeat = $1 WHERE id = $2 AND lease_pid = $3 AND lease_host = $4",
                         unix_now(), run_id, static_cast<std::int64_t>(lease_pid_), lease_host_);
      if (r.affected_rows() == 0) fence(tx, run_id);  // throws LeaseLost
    });
  }

  void release_lease(const std::string& run_id) override {
    if (!leased_.count(run_id)) return;  // not this store's lease: not its to release
    write([&](pqxx::work& tx) {
      tx.exec_params(
          "UPDATE runs SET lease_pid = 0, lease_host = '', lease_start = 0 WHERE id = $1 AND lease_pid = $2 AND "
          "lease_host = $3",
          run_id, static_cast<std::int64_t>(lease_pid_), lease_host_);
    });
    leased_.erase(run_id);
  }

  bool approve(const std::string& run_id, const std::string& step_id, const Approval& a) override {
    bool done = false;
    write([&](pqxx::work& tx) {
      auto r = tx.exec_params(
          "UPDATE steps SET approved_by = $1, approved_host = $2, approved_at = $3, approval_note = $4, "
          "auto_approved = FALSE, approved_fingerprint = $5 WHERE run_id = $6 AND id = $7 AND status = 'waiting' AND "
          "fingerprint = $5",
          a.by, a.host, a.at, a.note, a.fingerprint, run_id, step_id);
      done = r.affected_rows() == 1;
      if (!done) return;
      event(tx, run_id, step_id, a.at, "approved", 0, a.note);
      // Delivered when this transaction commits: a driver waiting with --wait wakes at once.
      tx.exec_params("SELECT pg_notify($1, $2)", std::string(kChannel), run_id);
    });
    return done;
  }

  // A connection of its own for LISTEN (the store's connection runs transactions, during which
  // libpq delivers no notification).
  int approval_wakeup_fd(const std::string&) override {
    try {
      if (!listener_) {
        listener_ = std::make_unique<pqxx::connection>(url_);
        receiver_ = std::make_unique<Receiver>(*listener_);
      }
      return listener_->sock();
    } catch (const std::exception&) {
      receiver_.reset();
      listener_.reset();
      return -1;  // the driver polls instead
    }
  }
  void consume_wakeups() override {
    try {
      if (listener_) listener_->get_notifs();
    } catch (const std::exception&) {
      receiver_.reset();
      listener_.reset();
    }
  }
  int poll_interval_ms() const override { return listener_ ? 10000 : 1000; }

  std::unique_ptr<LogWriter> open_log(const std::string& run_id, std::string& error) override {
    try {
      std::int64_t last = read([&](pqxx::transaction_base& tx) {
        return integer(tx.exec_params("SELECT coalesce(max(seq), 0) FROM logs WHERE run_id = $1", run_id)[0][0]);
      });
      return std::make_unique<PgLogWriter>(*conn_, run_id, last, password_);
    } catch (const StateError& e) {
      error = e.what();
      return nullptr;
    }
  }
  std::map<int, std::string> read_log(const std::string& run_id, const std::string& step) override {
    return read([&](pqxx::transaction_base& tx) { return read_logs(tx, run_id, step, 0); });
  }

  // libpqxx's errors as StateError, naming the store (its password masked, also where libpq
  // quotes the connection string back).
  template <typename F>
  auto guard(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const StateError&) {
      throw;
    } catch (const pqxx::in_doubt_error& e) {
      lost_ = true;
      throw StoreLost("the PostgreSQL store " + shown_ + " lost the connection during a commit; whether it was " +
                      "recorded is not known: `relengine resume` reconciles (" + mask(e.what()) + ")");
    } catch (const pqxx::broken_connection& e) {
      // A lost connection ends this process's use of the store, even where libpqxx would connect
      // again: what happened in between (a lease expired, another driver) is not known here.
      lost_ = true;
      throw StoreLost("lost the connection to the PostgreSQL store " + shown_ + ": " + mask(e.what()) +
                      "; this driver stops, nothing more is started (relengine resume once it is back)");
    } catch (const pqxx::sql_error& e) {
      throw StateError("PostgreSQL store " + shown_ + ": " + mask(e.what()));
    } catch (const std::exception& e) {
      throw StateError("PostgreSQL store " + shown_ + ": " + mask(e.what()));
    }
  }

 private:
  std::string mask(const std::string& message) const { return without_password(message, password_); }

  // One committed transaction per call: the engine acts only after it returns.
  template <typename F>
  void write(F&& f) {
    if (read_only_) throw StateError("the store " + shown_ + " is open read-only (a dry run writes nothing)");
    if (lost_) throw StoreLost("the connection to the PostgreSQL store " + shown_ + " was lost: this driver stops");
    guard([&] {
      pqxx::work tx(*conn_);
      f(tx);
      tx.commit();
    });
  }
  template <typename F>
  auto read(F&& f) -> decltype(f(std::declval<pqxx::read_transaction&>())) {
    if (lost_) throw StoreLost("the connection to the PostgreSQL store " + shown_ + " was lost: this driver stops");
    return guard([&] {
      pqxx::read_transaction tx(*conn_);
      return f(tx);
    });
  }

  void upsert_step(pqxx::work& tx, const std::string& run_id, const StepRecord& st) {
    tx.exec_params(
        "INSERT INTO steps(run_id, id, step, phase, status, reason, attempts, started, finished, exit_code, outputs, "
        "message, fingerprint, approved_by, approved_at, approval_note, auto_approved, ord, approved_fingerprint, "
        "approved_host) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, '')::integer, $11, $12, $13, $14, $15, "
        "$16, $17, $18, $19, $20) ON CONFLICT (run_id, id) DO UPDATE SET step = excluded.step, phase = excluded.phase, "
        "status = excluded.status, reason = excluded.reason, attempts = excluded.attempts, started = excluded.started, "
        "finished = excluded.finished, exit_code = excluded.exit_code, outputs = excluded.outputs, "
        "message = excluded.message, fingerprint = excluded.fingerprint, approved_by = excluded.approved_by, "
        "approved_at = excluded.approved_at, approval_note = excluded.approval_note, "
        "auto_approved = excluded.auto_approved, ord = excluded.ord, approved_fingerprint = "
        "excluded.approved_fingerprint, approved_host = excluded.approved_host",
        run_id, st.id, st.step, st.phase, std::string(name(st.status)), st.reason, st.attempts, st.started, st.finished,
        st.exit_code ? std::to_string(*st.exit_code) : std::string(), to_json_map(st.outputs), st.message,
        st.fingerprint, st.approved_by, st.approved_at, st.approval_note, st.auto_approved, st.order,
        st.approved_fingerprint, st.approved_host);
  }
  static void event(pqxx::work& tx, const std::string& run_id, const std::string& step, const std::string& time,
                    const std::string& transition, int attempt, const std::string& message) {
    tx.exec_params(
        "INSERT INTO events(run_id, step, time, transition, attempt, message) VALUES ($1, $2, $3, $4, $5, $6)", run_id,
        step, time, transition, attempt, message);
  }

  // The schema: found, created (Create), migrated, or refused (newer; absent unless Create).
  void prepare(OpenMode mode) {
    std::string schema;  // to create: the search_path names it, it does not exist yet
    read_only_ = mode == OpenMode::ReadOnly;
    {
      // A search_path naming a schema that does not exist yet: created (Create) so the tables go there.
      pqxx::nontransaction probe(*conn_);
      if (probe.exec("SELECT current_schema()")[0][0].is_null()) {
        std::string path = probe.exec("SHOW search_path")[0][0].as<std::string>();
        std::string first = path.substr(0, path.find(','));
        while (!first.empty() && first.front() == ' ') first.erase(0, 1);
        if (first.size() >= 2 && first.front() == '"' && first.back() == '"') first = first.substr(1, first.size() - 2);
        if (first.empty() || first == "$user") throw StateError("the search_path of " + shown_ + " names no schema");
        if (mode != OpenMode::Create)
          throw StateNotFound("no runs in " + shown_ + " (no schema " + first +
                              "); start one with `relengine run PLAYBOOK`");
        schema = probe.quote_name(first);
      }
    }
    if (!schema.empty()) {  // under the migration's lock: two first runs at once create it once
      pqxx::work tx(*conn_);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
      tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema);
      tx.commit();
    }
    int version = stored_version();
    if (version > kSchemaVersion) throw StateError(newer_message(version));
    if (version == 0 && mode != OpenMode::Create)
      throw StateNotFound("no runs in " + shown_ + "; start one with `relengine run PLAYBOOK`");
    if (version == kSchemaVersion) return;
    if (mode == OpenMode::ReadOnly)
      throw StateError(shown_ + " has state schema " + std::to_string(version) + ", older than this relengine's " +
                       std::to_string(kSchemaVersion) + "; a dry run does not migrate it: run once without --dry-run");
    pqxx::work tx(*conn_);
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
    // Looked at again under the lock: another driver that started at the same moment may have
    // migrated meanwhile, and its run may be writing now; the DDL again (ALTER TABLE takes an
    // exclusive lock even where it changes nothing) would deadlock with that run's inserts.
    version = version_in(tx);
    if (version > kSchemaVersion) throw StateError(newer_message(version));
    if (version == kSchemaVersion) return;
    // Forward migrations, one per schema version (the PostgreSQL store started at 4).
    tx.exec(kSchema);
    tx.exec("ALTER TABLE steps ADD COLUMN IF NOT EXISTS approved_host TEXT NOT NULL DEFAULT ''");  // 5
    tx.exec_params(
        "INSERT INTO meta(key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = "
        "excluded.value",
        std::to_string(kSchemaVersion));
    tx.commit();
  }
  int stored_version() {
    pqxx::nontransaction tx(*conn_);
    return version_in(tx);
  }
  // The schema version the tables hold, 0 before they exist. Whether `meta` exists is asked of
  // pg_class with the statement's own snapshot: to_regclass() reads the session's catalog cache,
  // which after waiting for the migration's lock can still miss the tables the driver that held
  // it has just committed (and the migration would then run again).
  static int version_in(pqxx::transaction_base& tx) {
    if (!tx.exec("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
                 "c.relnamespace WHERE c.relname = 'meta' AND n.nspname = current_schema())")[0][0]
             .as<bool>())
      return 0;
    auto r = tx.exec("SELECT value FROM meta WHERE key = 'schema_version'");
    return r.empty() ? 0 : std::stoi(r[0][0].as<std::string>());
  }
  std::string newer_message(int version) const {
    return shown_ + " was written by a newer relengine (state schema " + std::to_string(version) + ", this one knows " +
           std::to_string(kSchemaVersion) + "): use that relengine";
  }

  class Receiver : public pqxx::notification_receiver {
   public:
    explicit Receiver(pqxx::connection& c) : pqxx::notification_receiver(c, kChannel) {}
    // Any approval wakes the driver for a look at the store (the payload names the run).
    void operator()(const std::string&, int) override {}
  };

  // Fencing: a driver writes only while the run's lease is its own, checked under the run's row
  // lock in the write's own transaction (a takeover, which takes that lock, waits for it or is seen).
  void fence(pqxx::work& tx, const std::string& run_id) {
    if (!leased_.count(run_id)) return;
    auto r = tx.exec_params("SELECT lease_pid, lease_host FROM runs WHERE id = $1 FOR UPDATE", run_id);
    RunRecord holder;
    if (!r.empty()) holder.lease_pid = static_cast<int>(integer(r[0][0])), holder.lease_host = text(r[0][1]);
    if (holder.lease_pid == lease_pid_ && holder.lease_host == lease_host_) return;
    leased_.erase(run_id);
    throw LeaseLost(lease_lost_message(run_id, holder));
  }

  std::string url_, shown_, password_;
  std::set<std::string> leased_;  // the runs whose lease this store took (and so fences)
  int lease_pid_ = 0;             // this process and machine as the leases record them
  std::string lease_host_;
  bool lost_ = false;  // the connection was lost: nothing more from this process
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::connection> listener_;  // declared before receiver_: destroyed after it
  std::unique_ptr<Receiver> receiver_;
  bool read_only_ = false;
};

bool PgLogWriter::write(std::string& error) {
  if (queue_.empty()) return true;
  try {
    pqxx::work tx(conn_);
    tx.exec("SET LOCAL synchronous_commit TO OFF");
    for (const auto& r : queue_) {
      auto res = tx.exec_params(
          "INSERT INTO logs(run_id, step, attempt, chunk) VALUES ($1, $2, $3, $4) RETURNING seq", run_, r.step,
          r.attempt, pqxx::binarystring(reinterpret_cast<const unsigned char*>(r.text.data()), r.text.size()));
      last_ = integer(res[0][0]);
    }
    tx.commit();
    queue_.clear();
    return true;
  } catch (const std::exception& e) {
    queue_.clear();
    error = "cannot write the step log to the store: " + without_password(e.what(), password_);
    return false;
  }
}

std::map<int, std::string> PgLogWriter::read(const std::string& step, std::uint64_t from) {
  try {
    pqxx::read_transaction tx(conn_);
    return read_logs(tx, run_, step, static_cast<std::int64_t>(from));
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace

bool is_postgres_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string masked_location(const std::string& location) {
  if (!is_postgres_url(location)) return location;
  // postgresql://user:PASSWORD@host/db  and  ...?password=PASSWORD&...
  static const std::regex userinfo(R"(^(postgres(?:ql)?://[^:/@?#]*):[^@/?#]*@)");
  static const std::regex param(R"(([?&]password=)[^&#]*)");
  std::string out = std::regex_replace(location, userinfo, "$1:***@");
  return std::regex_replace(out, param, "$1***");
}

std::unique_ptr<RunStore> open_postgres_store(const std::string& url, OpenMode mode) {
  return std::make_unique<PgStore>(url, mode);
}

}  // namespace relengine::state
