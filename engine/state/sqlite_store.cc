#include "state/sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "io/private_file.h"
#include "state/run_log.h"

namespace relengine::state {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// An SQLite statement, finalized when it goes out of scope.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw StateError(std::string("state database: ") + sqlite3_errmsg(db));
  }
  // A statement prepared once and kept by the RunStore (the hot ones: one per step transition).
  Statement(sqlite3* db, sqlite3_stmt* reused) : db_(db), stmt_(reused), owned_(false) {}
  ~Statement() {
    if (owned_) {
      sqlite3_finalize(stmt_);
    } else {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // true while there is a row.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StateError(std::string("state database: ") + sqlite3_errmsg(db_));
  }
  std::string text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool owned_ = true;
};

// An upsert, not INSERT OR REPLACE: an existing row (every transition but the first) is updated in
// place instead of deleted and inserted again, which rewrote the primary-key index each time.
const char* kInsertStep =
    "INSERT INTO steps(run_id, id, step, phase, status, reason, attempts, started, finished, "
    "exit_code, outputs, message, fingerprint, approved_by, approved_at, approval_note, auto_approved, ord, "
    "approved_fingerprint, approved_host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(run_id, id) DO UPDATE SET step = excluded.step, phase = excluded.phase, status = excluded.status, "
    "reason = excluded.reason, attempts = excluded.attempts, started = excluded.started, finished = excluded.finished, "
    "exit_code = excluded.exit_code, outputs = excluded.outputs, message = excluded.message, "
    "fingerprint = excluded.fingerprint, approved_by = excluded.approved_by, approved_at = excluded.approved_at, "
    "approval_note = excluded.approval_note, auto_approved = excluded.auto_approved, ord = excluded.ord, "
    "approved_fingerprint = excluded.approved_fingerprint, approved_host = excluded.approved_host";
const char* kInsertEvent =
    "INSERT INTO events(run_id, step, time, transition, attempt, message) VALUES (?, ?, ?, ?, ?, ?)";

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
  lease_pid INTEGER NOT NULL DEFAULT 0,
  lease_host TEXT NOT NULL DEFAULT '',
  lease_start INTEGER NOT NULL DEFAULT 0,
  lease_heartbeat INTEGER NOT NULL DEFAULT 0,
  seq INTEGER NOT NULL DEFAULT 0
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
  auto_approved INTEGER NOT NULL DEFAULT 0,
  ord INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, id)
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  time TEXT NOT NULL,
  transition TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, seq);
)SQL";

const char* kStepColumns =
    "id, step, phase, status, reason, attempts, started, finished, exit_code, outputs, message, fingerprint, "
    "approved_by, approved_at, approval_note, auto_approved, ord, approved_fingerprint, approved_host";

StepRecord read_step(const Statement& s) {
  StepRecord r;
  r.id = s.text(0);
  r.step = s.text(1);
  r.phase = s.text(2);
  r.status = stored_step_status(s.text(3));
  r.reason = s.text(4);
  r.attempts = static_cast<int>(s.integer(5));
  r.started = s.text(6);
  r.finished = s.text(7);
  if (!s.is_null(8)) r.exit_code = static_cast<int>(s.integer(8));
  r.outputs = from_json_map(s.text(9));
  r.message = s.text(10);
  r.fingerprint = s.text(11);
  r.approved_by = s.text(12);
  r.approved_at = s.text(13);
  r.approval_note = s.text(14);
  r.auto_approved = s.integer(15) != 0;
  r.order = static_cast<int>(s.integer(16));
  r.approved_fingerprint = s.text(17);
  r.approved_host = s.text(18);
  return r;
}

const char* kRunColumns =
    "id, playbook, playbook_path, playbook_hash, name, inputs, status, started, finished, selection, lease_pid, "
    "lease_host, lease_start, lease_heartbeat, validated_by";

RunRecord read_run(const Statement& s) {
  RunRecord r;
  r.id = s.text(0);
  r.playbook = s.text(1);
  r.playbook_path = s.text(2);
  r.playbook_hash = s.text(3);
  r.name = s.text(4);
  r.inputs = from_json_map(s.text(5));
  r.status = stored_run_status(s.text(6));
  r.started = s.text(7);
  r.finished = s.text(8);
  r.selection = s.text(9);
  r.lease_pid = static_cast<int>(s.integer(10));
  r.lease_host = s.text(11);
  r.lease_start = s.integer(12);
  r.lease_heartbeat = s.integer(13);
  r.validated_by = s.text(14);
  return r;
}

// A transaction that rolls back unless committed.
class Transaction {
 public:
  Transaction(sqlite3* db, const char* begin = "BEGIN IMMEDIATE") : db_(db) { run(begin); }
  // With statements prepared once (the commit of every transition: no SQL parsed per commit).
  Transaction(sqlite3* db, sqlite3_stmt* begin, sqlite3_stmt* commit) : db_(db), commit_(commit) { run(begin); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    if (commit_)
      run(commit_);
    else
      run("COMMIT");
    done_ = true;
  }

 private:
  void run(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : "error";
      sqlite3_free(err);
      fail(rc, msg);
    }
  }
  void run(sqlite3_stmt* stmt) {
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) fail(rc, sqlite3_errmsg(db_));
  }
  [[noreturn]] static void fail(int rc, const std::string& msg) {
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
      throw StateError("the state database is locked by another process (" + msg + "); try again");
    throw StateError("state database: " + msg);
  }
  sqlite3* db_;
  sqlite3_stmt* commit_ = nullptr;
  bool done_ = false;
};

std::string describe_open_error(const std::string& path, int rc, sqlite3* db) {
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
    return path + " is not a readable relengine state database (" + detail +
           "); it was left as it is: move it away to start afresh, or restore it from a backup";
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
    return path + " is locked by another process (" + detail + "); try again when it has finished";
  if (rc == SQLITE_CANTOPEN || rc == SQLITE_PERM || rc == SQLITE_READONLY)
    return "cannot open " + path + " (" + detail + "); check that it exists and is readable and writable";
  return "cannot use " + path + ": " + detail;
}

// The database header (https://www.sqlite.org/fileformat.html#the_database_header): bytes 16-17
// page size (1 = 65536), 24-27 change counter, 28-31 size in pages, 92-95 the change counter for
// which that size is valid.
std::optional<std::string> truncated(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char h[100];
  if (!in.read(reinterpret_cast<char*>(h), sizeof h)) return std::nullopt;  // empty or tiny: SQLite decides
  if (std::string(reinterpret_cast<char*>(h), 16) != std::string("SQLite format 3\0", 16)) return std::nullopt;
  auto be32 = [&](int at) {
    return (std::uint32_t(h[at]) << 24) | (std::uint32_t(h[at + 1]) << 16) | (std::uint32_t(h[at + 2]) << 8) |
           h[at + 3];
  };
  std::uint64_t page = (std::uint32_t(h[16]) << 8) | h[17];
  if (page == 1) page = 65536;
  std::uint32_t pages = be32(28);
  if (pages == 0 || be32(24) != be32(92)) return std::nullopt;  // the size field is not valid
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec || size >= page * pages) return std::nullopt;
  return path.string() + " is damaged: it holds " + std::to_string(size) + " bytes, its header says " +
         std::to_string(page * pages) +
         " (cut off?); it was left as it is: restore it from a backup, or move it away "
         "to start afresh";
}

// A read-only URI for state.db that creates no file: with no -wal beside it everything is in the
// file itself, which is opened immutable (no -shm, no -wal made); with one, SQLite reads both.
std::string read_only_uri(const fs::path& path) {
  std::string uri = "file:";
  for (char c : path.string()) {
    if (c == '%' || c == '?' || c == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      uri += buf;
    } else {
      uri += c;
    }
  }
  std::error_code ec;
  bool wal = fs::exists(path.string() + "-wal", ec);
  return uri + (wal ? "?mode=ro" : "?mode=ro&immutable=1");
}

// Checks an existing state.db read-only (a damaged or foreign file must not be touched): the
// header's size, SQLite's quick_check, the schema version. Returns the version (0: a database
// with no tables, one this program began to create and was killed before its first commit).
int check_existing(const fs::path& path) {
  if (auto problem = truncated(path)) throw StateError(*problem);
  int version = 0;
  sqlite3* ro = nullptr;
  int rc = sqlite3_open_v2(read_only_uri(path).c_str(), &ro, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(ro, 5000);
    sqlite3_stmt* st = nullptr;
    rc = sqlite3_prepare_v2(ro, "PRAGMA quick_check", -1, &st, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(st);
      std::string verdict = rc == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
      sqlite3_finalize(st);
      if (rc == SQLITE_ROW && verdict != "ok")
        rc = SQLITE_CORRUPT;
      else if (rc == SQLITE_ROW)
        rc = SQLITE_OK;
    }
    // A database with no tables at all is one this program began to create and was killed
    // before its first commit: there is nothing in it to lose, so it is initialized.
    bool empty = false;
    if (rc == SQLITE_OK &&
        sqlite3_prepare_v2(ro, "SELECT count(*) FROM sqlite_master", -1, &st, nullptr) == SQLITE_OK) {
      empty = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0;
      sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK && !empty) {
      rc = sqlite3_prepare_v2(ro, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, nullptr);
      if (rc == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
          version = std::atoi(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
        sqlite3_finalize(st);
        if (version > RunStore::kSchemaVersion) {
          sqlite3_close_v2(ro);
          throw StateError(path.string() + " was written by a newer relengine (state schema " +
                           std::to_string(version) + ", this one knows up to " +
                           std::to_string(RunStore::kSchemaVersion) +
                           "); use that version, the file was left as it is");
        }
      } else {
        rc = SQLITE_NOTADB;  // a database, but not ours
      }
    }
  }
  if (rc != SQLITE_OK) {
    std::string msg = describe_open_error(path.string(), rc, ro);
    if (ro) sqlite3_close_v2(ro);
    throw StateError(msg);
  }
  sqlite3_close_v2(ro);
  return version;
}

}  // namespace

SqliteStore::SqliteStore(std::string dir, sqlite3* db) : dir_(std::move(dir)), db_(db) {}

sqlite3_stmt* SqliteStore::prepared(const char* sql) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
    throw StateError(std::string("state database: ") + sqlite3_errmsg(db_));
  prepared_.emplace(sql, stmt);
  return stmt;
}

SqliteStore::~SqliteStore() {
  for (auto& [sql, stmt] : prepared_) sqlite3_finalize(stmt);
  if (db_) sqlite3_close_v2(db_);
}

void SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    throw StateError(describe_open_error((fs::path(dir_) / "state.db").string(), rc, db_));
  }
}

std::unique_ptr<SqliteStore> SqliteStore::open(const std::string& state_dir, bool create) {
  fs::path path = fs::path(state_dir) / "state.db";
  bool exists = fs::exists(path);
  if (!exists && !create)
    throw StateNotFound("no runs in " + state_dir + " (no state.db); start one with `relengine run PLAYBOOK`");
  if (exists) {
    // A file shorter than its own header says (cut off by a copy or a full disk) is damaged even
    // where SQLite would read it: when only trailing pages are gone, quick_check passes.
    check_existing(path);
  } else {
    // Private by default (docs/execution.md, "State"): the directories made here are 0700, and
    // state.db is created 0600 before SQLite opens it, because SQLite gives its -wal and -shm
    // the database's mode. A directory that exists keeps its permissions.
    std::string error;
    if (!io::make_private_dirs(state_dir, error)) throw StateError("cannot create the state directory: " + error);
    if (!io::open_private_file(path.string(), io::Existing::Keep, error))
      throw StateError("cannot create the state database: " + error);
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = describe_open_error(path.string(), rc, db);
    sqlite3_close_v2(db);
    throw StateError(msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(state_dir, db));
  sqlite3_busy_timeout(db, 5000);
  store->exec("PRAGMA journal_mode=WAL");
  store->exec("PRAGMA synchronous=FULL");
  store->exec("PRAGMA foreign_keys=ON");
  store->migrate();
  return store;
}

std::unique_ptr<SqliteStore> SqliteStore::open_read_only(const std::string& state_dir) {
  fs::path path = fs::path(state_dir) / "state.db";
  if (!fs::exists(path))
    throw StateNotFound("no runs in " + state_dir + " (no state.db); start one with `relengine run PLAYBOOK`");
  int version = check_existing(path);
  if (version < kSchemaVersion)
    throw StateError(path.string() + " has state schema " + std::to_string(version) + ", older than this relengine's " +
                     std::to_string(kSchemaVersion) + "; a dry run does not migrate it (it writes nothing): run the " +
                     "command once without --dry-run");
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(read_only_uri(path).c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = describe_open_error(path.string(), rc, db);
    sqlite3_close_v2(db);
    throw StateError(msg);
  }
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<SqliteStore>(new SqliteStore(state_dir, db));
}

std::unique_ptr<SqliteStore> SqliteStore::open_for_reading(const std::string& state_dir) {
  fs::path path = fs::path(state_dir) / "state.db";
  if (fs::exists(path) && check_existing(path) < kSchemaVersion) return open(state_dir, false);
  return open_read_only(state_dir);
}

void SqliteStore::migrate() {
  Transaction tx(db_);
  int version = 0;
  {
    Statement probe(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
    probe.step();
    if (probe.integer(0) > 0) {
      Statement s(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
      if (s.step()) version = std::stoi(s.text(0));
    }
  }
  // Forward migrations, one per schema version; each runs once, in order.
  if (version < 1) exec(kSchema);
  // 2: which relengine validated the playbook's recorded bytes (resume skips what passed then).
  // A column is added only where it is missing: a file written by a relengine that stamped an
  // older version (or edited by hand) may have it already.
  auto add_column = [&](const char* table, const char* column, const char* decl) {
    Statement probe(db_,
                    (std::string("SELECT count(*) FROM pragma_table_info('") + table + "') WHERE name = ?").c_str());
    probe.bind(1, std::string(column));
    probe.step();
    if (probe.integer(0) == 0)
      exec((std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " + decl).c_str());
  };
  if (version < 2) add_column("runs", "validated_by", "TEXT NOT NULL DEFAULT ''");
  // 3: the items a for_each computed at run time expanded into, so a resume expands the same way.
  if (version < 3)
    exec(
        "CREATE TABLE IF NOT EXISTS expansions (run_id TEXT NOT NULL REFERENCES runs(id), step TEXT NOT NULL, "
        "items TEXT NOT NULL, time TEXT NOT NULL, PRIMARY KEY (run_id, step))");
  // 4: what an approval approved (the step's fingerprint then); another fingerprint voids it.
  if (version < 4) add_column("steps", "approved_fingerprint", "TEXT NOT NULL DEFAULT ''");
  // 5: the machine an approval came from (approvals from anywhere, docs/team.md).
  if (version < 5) add_column("steps", "approved_host", "TEXT NOT NULL DEFAULT ''");
  if (version != kSchemaVersion) {
    Statement s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)");
    s.bind(1, std::to_string(kSchemaVersion)).step();
  }
  tx.commit();
}

bool SqliteStore::create_run(const RunRecord& run, const std::vector<StepRecord>& steps) {
  Transaction tx(db_);
  {
    Statement s(
        db_,
        "INSERT INTO runs(id, playbook, playbook_path, playbook_hash, name, inputs, status, started, selection, "
        "validated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING");
    s.bind(1, run.id).bind(2, run.playbook).bind(3, run.playbook_path).bind(4, run.playbook_hash).bind(5, run.name);
    s.bind(6, to_json_map(run.inputs))
        .bind(7, std::string(name(run.status)))
        .bind(8, run.started)
        .bind(9, run.selection);
    s.bind(10, run.validated_by).step();
    if (sqlite3_changes(db_) == 0) return false;  // the id is taken: rolled back, nothing written
  }
  for (const auto& st : steps) add_step(run.id, st);
  {
    Statement e(db_, "INSERT INTO events(run_id, step, time, transition) VALUES (?, '', ?, 'run started')");
    e.bind(1, run.id).bind(2, run.started).step();
  }
  tx.commit();
  return true;
}

void SqliteStore::add_step(const std::string& run_id, const StepRecord& st) {
  Statement s(db_, prepared(kInsertStep));
  s.bind(1, run_id)
      .bind(2, st.id)
      .bind(3, st.step)
      .bind(4, st.phase)
      .bind(5, std::string(name(st.status)))
      .bind(6, st.reason);
  s.bind(7, st.attempts).bind(8, st.started).bind(9, st.finished);
  if (st.exit_code)
    s.bind(10, *st.exit_code);
  else
    s.bind_null(10);
  s.bind(11, to_json_map(st.outputs)).bind(12, st.message).bind(13, st.fingerprint).bind(14, st.approved_by);
  s.bind(15, st.approved_at).bind(16, st.approval_note).bind(17, st.auto_approved ? 1 : 0).bind(18, st.order);
  s.bind(19, st.approved_fingerprint).bind(20, st.approved_host);
  s.step();
}

void SqliteStore::save_step(const std::string& run_id, const StepRecord& st, const std::string& transition,
                            const std::string& message) {
  Transaction tx(db_);
  fence(run_id);
  add_step(run_id, st);
  Statement e(db_, prepared(kInsertEvent));
  e.bind(1, run_id).bind(2, st.id).bind(3, now_rfc3339()).bind(4, transition).bind(5, st.attempts).bind(6, message);
  e.step();
  tx.commit();
}

void SqliteStore::save_steps(const std::string& run_id, const std::vector<Transition>& steps) {
  if (steps.empty()) return;
  Transaction tx(db_, prepared("BEGIN IMMEDIATE"), prepared("COMMIT"));
  fence(run_id);
  std::string now = now_rfc3339();
  for (const auto& t : steps) {
    add_step(run_id, t.step);
    if (t.transition.empty()) continue;
    Statement e(db_, prepared(kInsertEvent));
    e.bind(1, run_id).bind(2, t.step.id).bind(3, now).bind(4, t.transition).bind(5, t.step.attempts).bind(6, t.message);
    e.step();
  }
  tx.commit();
}

void SqliteStore::remove_step(const std::string& run_id, const std::string& step_id) {
  Transaction tx(db_);
  fence(run_id);
  Statement s(db_, "DELETE FROM steps WHERE run_id = ? AND id = ?");
  s.bind(1, run_id).bind(2, step_id).step();
  Statement e(db_, "INSERT INTO events(run_id, step, time, transition) VALUES (?, ?, ?, 'removed')");
  e.bind(1, run_id).bind(2, step_id).bind(3, now_rfc3339()).step();
  tx.commit();
}

void SqliteStore::set_run_status(const std::string& run_id, RunStatus run_status, bool finished) {
  const std::string status(name(run_status));
  Transaction tx(db_);
  fence(run_id);
  std::string now = now_rfc3339();
  Statement s(db_, "UPDATE runs SET status = ?, finished = ? WHERE id = ?");
  s.bind(1, status).bind(2, finished ? now : std::string()).bind(3, run_id).step();
  Statement e(db_, "INSERT INTO events(run_id, step, time, transition) VALUES (?, '', ?, ?)");
  e.bind(1, run_id).bind(2, now).bind(3, "run " + status).step();
  tx.commit();
}

void SqliteStore::update_run_inputs(const std::string& run_id, const std::map<std::string, std::string>& inputs,
                                    const std::string& playbook_hash, const std::string& validated_by) {
  Transaction tx(db_);
  fence(run_id);
  Statement s(db_, "UPDATE runs SET inputs = ?, playbook_hash = ?, validated_by = ? WHERE id = ?");
  s.bind(1, to_json_map(inputs)).bind(2, playbook_hash).bind(3, validated_by).bind(4, run_id).step();
  tx.commit();
}

void SqliteStore::update_run_selection(const std::string& run_id, const std::string& selection,
                                       const std::string& playbook, const std::string& playbook_path) {
  Transaction tx(db_);
  fence(run_id);
  Statement s(db_, "UPDATE runs SET selection = ?, playbook = ?, playbook_path = ? WHERE id = ?");
  s.bind(1, selection).bind(2, playbook).bind(3, playbook_path).bind(4, run_id).step();
  tx.commit();
}

void SqliteStore::record_expansion(const std::string& run_id, const std::string& step, const std::string& items,
                                   const std::string& placeholder, const std::vector<StepRecord>& instances) {
  Transaction tx(db_);
  fence(run_id);
  std::string now = now_rfc3339();
  {
    Statement s(db_, "INSERT OR REPLACE INTO expansions(run_id, step, items, time) VALUES (?, ?, ?, ?)");
    s.bind(1, run_id).bind(2, step).bind(3, items).bind(4, now).step();
  }
  {
    Statement s(db_, "DELETE FROM steps WHERE run_id = ? AND id = ?");
    s.bind(1, run_id).bind(2, placeholder).step();
  }
  {
    Statement e(db_, prepared(kInsertEvent));
    e.bind(1, run_id).bind(2, placeholder).bind(3, now).bind(4, "expanded").bind(5, 0).bind(6, items).step();
  }
  for (const auto& st : instances) {
    add_step(run_id, st);
    Statement e(db_, prepared(kInsertEvent));
    e.bind(1, run_id).bind(2, st.id).bind(3, now).bind(4, "added").bind(5, 0).bind(6, "").step();
  }
  tx.commit();
}

std::map<std::string, std::string> SqliteStore::expansions(const std::string& run_id) {
  std::map<std::string, std::string> out;
  Statement s(db_, "SELECT step, items FROM expansions WHERE run_id = ?");
  s.bind(1, run_id);
  while (s.step()) out[s.text(0)] = s.text(1);
  return out;
}

void SqliteStore::forget_expansion(const std::string& run_id, const std::string& step) {
  Transaction tx(db_);
  fence(run_id);
  Statement s(db_, "DELETE FROM expansions WHERE run_id = ? AND step = ?");
  s.bind(1, run_id).bind(2, step).step();
  Statement e(db_, "INSERT INTO events(run_id, step, time, transition) VALUES (?, ?, ?, 'expansion forgotten')");
  e.bind(1, run_id).bind(2, step).bind(3, now_rfc3339()).step();
  tx.commit();
}

std::optional<RunRecord> SqliteStore::find_run(const std::string& id) {
  Statement s(db_, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?").c_str());
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_run(s);
}

std::optional<RunRecord> SqliteStore::latest_run() {
  Statement s(db_,
              (std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY started DESC, id DESC LIMIT 1").c_str());
  if (!s.step()) return std::nullopt;
  return read_run(s);
}

std::vector<RunRecord> SqliteStore::runs() {
  std::vector<RunRecord> out;
  Statement s(db_, (std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY started DESC, id DESC").c_str());
  while (s.step()) out.push_back(read_run(s));
  return out;
}

std::vector<StepRecord> SqliteStore::steps(const std::string& run_id) {
  std::vector<StepRecord> out;
  Statement s(db_, (std::string("SELECT ") + kStepColumns + " FROM steps WHERE run_id = ? ORDER BY ord, id").c_str());
  s.bind(1, run_id);
  while (s.step()) out.push_back(read_step(s));
  return out;
}

std::vector<Event> SqliteStore::events(const std::string& run_id) {
  std::vector<Event> out;
  Statement s(db_,
              "SELECT seq, run_id, step, time, transition, attempt, message FROM events WHERE run_id = ? ORDER BY seq");
  s.bind(1, run_id);
  while (s.step())
    out.push_back(
        {s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), static_cast<int>(s.integer(5)), s.text(6)});
  return out;
}

void SqliteStore::acquire_lease(const std::string& run_id) {
  Transaction tx(db_);
  Statement s(db_, "SELECT lease_pid, lease_host, lease_start, lease_heartbeat FROM runs WHERE id = ?");
  s.bind(1, run_id);
  if (!s.step()) throw StateError("no run " + run_id);
  RunRecord lease;
  lease.lease_pid = static_cast<int>(s.integer(0));
  lease.lease_host = s.text(1);
  lease.lease_start = s.integer(2);
  lease.lease_heartbeat = s.integer(3);
  std::string me = host_name();
  if (lease_held_elsewhere(lease)) throw StateError(lease_busy_message(run_id, lease));
  if (std::string note = takeover_note(lease); !note.empty()) {
    Statement e(db_, prepared(kInsertEvent));
    e.bind(1, run_id).bind(2, std::string()).bind(3, now_rfc3339()).bind(4, std::string("lease taken over"));
    e.bind(5, 0).bind(6, note).step();
  }
  Statement u(db_, "UPDATE runs SET lease_pid = ?, lease_host = ?, lease_start = ?, lease_heartbeat = ? WHERE id = ?");
  u.bind(1, static_cast<std::int64_t>(getpid())).bind(2, me).bind(3, process_start_time(getpid()));
  u.bind(4, unix_now()).bind(5, run_id).step();
  tx.commit();
  leased_.insert(run_id);
  // This driver as the lease records it: what heartbeat, release and fence() compare it with.
  lease_pid_ = static_cast<int>(getpid()), lease_host_ = me;
}

void SqliteStore::heartbeat(const std::string& run_id) {
  if (!leased_.count(run_id)) return;  // not this store's lease: nothing to beat for
  Statement u(db_, "UPDATE runs SET lease_heartbeat = ? WHERE id = ? AND lease_pid = ? AND lease_host = ?");
  // As the lease was taken: a machine renamed meanwhile still holds it (and beats for it).
  u.bind(1, unix_now()).bind(2, run_id).bind(3, static_cast<std::int64_t>(lease_pid_)).bind(4, lease_host_).step();
  if (sqlite3_changes(db_) == 0) fence(run_id);  // throws LeaseLost
}

void SqliteStore::release_lease(const std::string& run_id) {
  if (!leased_.count(run_id)) return;  // not this store's lease: not its to release
  Statement u(db_,
              "UPDATE runs SET lease_pid = 0, lease_host = '', lease_start = 0 WHERE id = ? AND lease_pid = ? AND "
              "lease_host = ?");
  u.bind(1, run_id).bind(2, static_cast<std::int64_t>(lease_pid_)).bind(3, lease_host_).step();
  leased_.erase(run_id);
}

// Fencing: a driver writes only while the run's lease is its own (checked inside the write's
// transaction, which holds SQLite's write lock: no other driver can take the lease meanwhile).
void SqliteStore::fence(const std::string& run_id) {
  if (!leased_.count(run_id)) return;
  Statement s(db_, prepared("SELECT lease_pid, lease_host FROM runs WHERE id = ?"));
  s.bind(1, run_id);
  RunRecord holder;
  if (s.step()) holder.lease_pid = static_cast<int>(s.integer(0)), holder.lease_host = s.text(1);
  if (holder.lease_pid == lease_pid_ && holder.lease_host == lease_host_) return;
  leased_.erase(run_id);
  throw LeaseLost(lease_lost_message(run_id, holder));
}

bool SqliteStore::approve(const std::string& run_id, const std::string& step_id, const Approval& a) {
  Transaction tx(db_);
  Statement u(db_,
              "UPDATE steps SET approved_by = ?, approved_host = ?, approved_at = ?, approval_note = ?, "
              "auto_approved = 0, approved_fingerprint = ? WHERE run_id = ? AND id = ? AND status = 'waiting' AND "
              "fingerprint = ?");
  u.bind(1, a.by).bind(2, a.host).bind(3, a.at).bind(4, a.note).bind(5, a.fingerprint).bind(6, run_id);
  u.bind(7, step_id).bind(8, a.fingerprint).step();
  if (sqlite3_changes(db_) != 1) return false;
  Statement e(db_, prepared(kInsertEvent));
  e.bind(1, run_id).bind(2, step_id).bind(3, a.at).bind(4, std::string("approved")).bind(5, 0).bind(6, a.note).step();
  tx.commit();
  return true;
}

namespace {

// The run's log as one file in the state directory (state/run_log.h).
class FileLogWriter final : public LogWriter {
 public:
  bool open(const fs::path& file, std::string& error) { return log_.open(file, error); }
  void add(const std::string& step, int attempt, const std::string& text) override {
    log_.add(RunLog::head(step, attempt), text);
  }
  bool write(std::string& error) override { return log_.write(error); }
  std::uint64_t mark() const override { return log_.size(); }
  std::map<int, std::string> read(const std::string& step, std::uint64_t from) override {
    return read_run_log(log_.file(), step, from);
  }

 private:
  RunLog log_;
};

}  // namespace

std::unique_ptr<LogWriter> SqliteStore::open_log(const std::string& run_id, std::string& error) {
  // Logs are private (0700/0600): a log holds whatever a tool printed, which nobody declared secret.
  const fs::path logs_dir = fs::path(dir_) / "logs";
  auto writer = std::make_unique<FileLogWriter>();
  if (!io::make_private_dirs(logs_dir.string(), error) || !writer->open(run_log_path(logs_dir, run_id), error))
    return nullptr;
  return writer;
}

std::map<int, std::string> SqliteStore::read_log(const std::string& run_id, const std::string& step) {
  // Each attempt from the run's log, else (attempts recorded by an earlier relengine) from its
  // own file: RUN/STEP.attempt-N.log, or RUN/STEP/attempt-N.log before that.
  const fs::path logs_dir = fs::path(dir_) / "logs", dir = logs_dir / run_id;
  auto out = read_run_log(run_log_path(logs_dir, run_id), step);
  int attempts = 0;
  for (const auto& rec : steps(run_id))
    if (rec.id == step) attempts = rec.attempts;
  for (int n = 1; n <= attempts; ++n) {
    if (out.count(n)) continue;
    for (const fs::path& file : {log_path(dir, step, n), dir / step / ("attempt-" + std::to_string(n) + ".log")}) {
      std::ifstream in(file, std::ios::binary);
      if (!in) continue;
      std::ostringstream text;
      text << in.rdbuf();
      out[n] = text.str();
      break;
    }
  }
  return out;
}

}  // namespace relengine::state
