#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "state/pg_store.h"
#include "state/sqlite_store.h"
#include "temp_dir.h"

using namespace relengine::state;
namespace fs = std::filesystem;

namespace {

using Dir = TempDirectory;

RunRecord sample_run(const std::string& id, const std::string& started) {
  RunRecord r;
  r.id = id;
  r.playbook = "p.yaml";
  r.playbook_path = "/abs/p.yaml";
  r.playbook_hash = "h";
  r.name = "demo";
  r.inputs = {{"version", "v1"}};
  r.started = started;
  return r;
}

StepRecord sample_step(const std::string& id, const std::string& phase) {
  StepRecord s;
  s.id = id;
  s.step = id.substr(0, id.find('['));
  s.phase = phase;
  return s;
}

// The permission bits of `p`, or -1 when it cannot be looked at.
int mode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

// Sets the process's umask for a scope (the store must not depend on it).
struct Umask {
  mode_t before;
  explicit Umask(mode_t m) : before(::umask(m)) {}
  ~Umask() { ::umask(before); }
};

}  // namespace

TEST_CASE("runs and steps round-trip — events are journaled in order") {
  Dir d;
  auto store = SqliteStore::open(d.path.string(), true);
  StepRecord a = sample_step("tag[api]", "cut");
  a.order = 1;
  store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), {a});
  store->create_run(sample_run("r2", "2026-01-02T00:00:00.000Z"), {});
  CHECK(store->latest_run()->id == "r2");
  CHECK(store->runs().size() == 2);
  a.status = StepStatus::Succeeded;
  a.attempts = 2;
  a.exit_code = 0;
  a.outputs = {{"sha", "abc"}};
  a.approved_by = "ann";
  store->save_step("r1", a, "succeeded", "done");
  auto steps = store->steps("r1");
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].status == StepStatus::Succeeded);
  CHECK(steps[0].outputs.at("sha") == "abc");
  CHECK(*steps[0].exit_code == 0);
  CHECK(steps[0].approved_by == "ann");
  auto events = store->events("r1");
  REQUIRE(events.size() == 2);
  CHECK(events[0].transition == "run started");
  CHECK(events[1].transition == "succeeded");
  CHECK(events[1].attempt == 2);
  auto run = store->find_run("r1");
  CHECK(run->inputs.at("version") == "v1");
  store->set_run_status("r1", RunStatus::Failed, true);
  CHECK(store->find_run("r1")->status == RunStatus::Failed);
  CHECK(!store->find_run("r1")->finished.empty());
  store->remove_step("r1", "tag[api]");
  CHECK(store->steps("r1").empty());
  CHECK(!store->find_run("nope"));
}

TEST_CASE("the database is in WAL mode with synchronous=FULL and a schema version") {
  Dir d;
  { auto store = SqliteStore::open(d.path.string(), true); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((d.path / "state.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::atoi(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == RunStore::kSchemaVersion);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_CASE("a state file from a newer relengine is refused and left as it is") {
  Dir d;
  { auto store = SqliteStore::open(d.path.string(), true); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((d.path / "state.db").c_str(), &db) == SQLITE_OK);
  sqlite3_exec(db, "PRAGMA journal_mode=DELETE; UPDATE meta SET value='99' WHERE key='schema_version'", nullptr,
               nullptr, nullptr);
  sqlite3_close(db);
  std::string before = slurp(d.path / "state.db");
  CHECK_THROWS_WITH_AS(SqliteStore::open(d.path.string(), true), doctest::Contains("written by a newer relengine"),
                       StateError);
  CHECK(slurp(d.path / "state.db") == before);
}

TEST_CASE("a state file of schema 1 is migrated to 2: runs gain validated_by, nothing is lost") {
  Dir d;
  {
    auto store = SqliteStore::open(d.path.string(), true);
    store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), {});
  }
  {  // make it what relengine 0.1 wrote: no validated_by column, schema version 1
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((d.path / "state.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(
                db, "ALTER TABLE runs DROP COLUMN validated_by; UPDATE meta SET value='1' WHERE key='schema_version'",
                nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = SqliteStore::open(d.path.string(), true);
  auto run = store->find_run("r1");
  REQUIRE(run);
  CHECK(run->playbook_hash == "h");
  CHECK(run->validated_by.empty());  // unknown: a resume validates in full
  store->update_run_inputs("r1", {}, "h2", "relengine x");
  CHECK(store->find_run("r1")->validated_by == "relengine x");
}

TEST_CASE("a state file truncated at any point is refused or read, never crashes, never rewritten") {
  Dir d;
  {
    auto store = SqliteStore::open(d.path.string(), true);
    std::vector<StepRecord> steps;
    for (int i = 0; i < 50; ++i) {
      StepRecord s;
      s.id = "s" + std::to_string(i);
      s.step = s.id;
      s.phase = "p";
      steps.push_back(s);
    }
    store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), steps);
  }
  {  // fold the WAL into the main file so the file alone is the database
    sqlite3* db = nullptr;
    sqlite3_open((d.path / "state.db").c_str(), &db);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  std::string whole = slurp(d.path / "state.db");
  REQUIRE(whole.size() > 4096);
  int refused = 0, opened = 0;
  for (std::size_t cut = 0; cut < whole.size(); cut += whole.size() / 64 + 1) {
    Dir t;
    { std::ofstream(t.path / "state.db", std::ios::binary) << whole.substr(0, cut); }
    std::string before = slurp(t.path / "state.db");
    try {
      auto store = SqliteStore::open(t.path.string(), false);
      store->runs();
      ++opened;
    } catch (const StateError&) {
      ++refused;
    }
    if (cut > 0) CHECK(slurp(t.path / "state.db") == before);
  }
  CHECK(refused > 0);
}

TEST_CASE("leases: a live owner is named, a dead one is taken over") {
  Dir d;
  auto store = SqliteStore::open(d.path.string(), true);
  store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), {});
  store->acquire_lease("r1");
  CHECK(store->find_run("r1")->lease_pid == getpid());
  store->acquire_lease("r1");  // the same process may take it again
  store->release_lease("r1");
  CHECK(store->find_run("r1")->lease_pid == 0);

  // A live process of this host (pid 1) holds it: refused, naming pid and host.
  sqlite3* db = nullptr;
  sqlite3_open((d.path / "state.db").c_str(), &db);
  std::string sql = "UPDATE runs SET lease_pid=1, lease_host='" + host_name() +
                    "', lease_start=" + std::to_string(process_start_time(1)) + " WHERE id='r1'";
  sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  CHECK_THROWS_WITH_AS(store->acquire_lease("r1"), doctest::Contains("is being driven by pid 1 on host"), StateError);
  // A pid that cannot exist (above Linux's largest, 2^22): taken over. (999999 could be a live
  // process on a machine with a large pid_max, and with lease_start=0 it would count as the owner.)
  sqlite3_exec(db, "UPDATE runs SET lease_pid=4194305, lease_start=0 WHERE id='r1'", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  store->acquire_lease("r1");
  CHECK(store->find_run("r1")->lease_pid == getpid());
}

TEST_CASE("create_run under an id that is taken writes nothing and says so") {
  Dir d;
  auto store = SqliteStore::open(d.path.string(), true);
  StepRecord a = sample_step("build", "p");
  a.status = StepStatus::Succeeded;
  REQUIRE(store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), {a}));
  RunRecord other = sample_run("r1", "2026-01-02T00:00:00.000Z");
  other.name = "another";
  StepRecord b = sample_step("deploy", "p");
  CHECK_FALSE(store->create_run(other, {a, b}));  // before: a UNIQUE constraint error (exit 4)
  // The first run as it was: its name, its one step still succeeded, one "run started".
  CHECK(store->find_run("r1")->name == "demo");
  auto steps = store->steps("r1");
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].status == StepStatus::Succeeded);
  CHECK(store->events("r1").size() == 1);
  CHECK(store->runs().size() == 1);
}

TEST_CASE("opening without create in an empty directory says how to start") {
  Dir d;
  CHECK_THROWS_WITH_AS(SqliteStore::open((d.path / "none").string(), false),
                       doctest::Contains("relengine run PLAYBOOK"), StateError);
}

TEST_CASE("a database left empty by a crash during creation is initialized, not refused") {
  Dir d;
  { std::ofstream(fs::path(d.path) / "state.db"); }  // zero bytes: created, never written
  auto store = SqliteStore::open(d.path.string(), false);
  CHECK(store->runs().empty());
}

TEST_CASE("expansions: recorded with their instances in one transaction — a schema 2 file gains the table") {
  Dir d;
  {
    auto store = SqliteStore::open(d.path.string(), true);
    StepRecord ph;
    ph.id = "fan[*]";
    ph.step = "fan";
    ph.phase = "p";
    store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), {ph});
  }
  {  // what relengine wrote before run-time expansions: no expansions table, schema version 2
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((d.path / "state.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "DROP TABLE expansions; UPDATE meta SET value='2' WHERE key='schema_version'", nullptr,
                         nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = SqliteStore::open(d.path.string(), true);
  CHECK(store->expansions("r1").empty());
  std::vector<StepRecord> instances(2);
  instances[0].id = "fan[a]";
  instances[1].id = "fan[b]";
  for (auto& i : instances) i.step = "fan", i.phase = "p";
  store->record_expansion("r1", "fan", "[\"a\",\"b\"]", "fan[*]", instances);
  CHECK(store->expansions("r1") == std::map<std::string, std::string>{{"fan", "[\"a\",\"b\"]"}});
  auto steps = store->steps("r1");
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].id == "fan[a]");
  CHECK(steps[1].id == "fan[b]");
  bool journaled = false;
  for (const auto& e : store->events("r1")) journaled |= e.step == "fan[*]" && e.transition == "expanded";
  CHECK(journaled);
  store->forget_expansion("r1", "fan");
  CHECK(store->expansions("r1").empty());
}

TEST_CASE("a new state directory is private: 0700, state.db and its -wal and -shm 0600, whatever the umask") {
  for (mode_t mask : {mode_t(0), mode_t(0277)}) {
    CAPTURE(mask);
    Dir d;
    Umask umask(mask);
    fs::path dir = d.path / "parent" / "state";
    auto store = SqliteStore::open(dir.string(), true);
    store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), {});  // the WAL and its index exist now
    CHECK(mode_of(d.path / "parent") == 0700);                            // created by the store: private too
    CHECK(mode_of(dir) == 0700);
    CHECK(mode_of(dir / "state.db") == 0600);
    CHECK(mode_of(dir / "state.db-wal") == 0600);
    CHECK(mode_of(dir / "state.db-shm") == 0600);
  }
}

TEST_CASE("an existing state directory keeps its permissions — the database created in it is 0600") {
  Dir d;
  Umask umask(0);
  fs::path dir = d.path / "shared";
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  auto store = SqliteStore::open(dir.string(), true);
  store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), {});
  CHECK(mode_of(dir) == 0755);  // the user's choice, left as it is
  CHECK(mode_of(dir / "state.db") == 0600);
  CHECK(mode_of(dir / "state.db-wal") == 0600);
  CHECK(mode_of(dir / "state.db-shm") == 0600);
}

TEST_CASE("a PostgreSQL URL is told from a directory, and its password never shows") {
  CHECK(is_postgres_url("postgresql://db.example/releases"));
  CHECK(is_postgres_url("postgres://u@db/r"));
  CHECK_FALSE(is_postgres_url(".relengine"));
  CHECK_FALSE(is_postgres_url("/srv/postgresql://x"));
  CHECK(masked_location("postgresql://rel:s3cr3t@db.example:5432/releases?sslmode=require") ==
        "postgresql://rel:***@db.example:5432/releases?sslmode=require");
  CHECK(masked_location("postgres://rel@db/r?password=s3cr3t&sslmode=verify-full") ==
        "postgres://rel@db/r?password=***&sslmode=verify-full");
  CHECK(masked_location("postgresql:///r?host=/tmp&password=s3cr3t") == "postgresql:///r?host=/tmp&password=***");
  CHECK(masked_location("postgresql://rel@db/r") == "postgresql://rel@db/r");  // nothing to mask
  CHECK(masked_location("state/with:colon@dir") == "state/with:colon@dir");    // a directory is shown as it is
  CHECK(state_dir_hint("postgresql://rel:s3cr3t@db/r").find("s3cr3t") == std::string::npos);
}

TEST_CASE("the default store: $RELENGINE_STATE, else $RELENGINE_STATE_DIR, else .relengine") {
  ::unsetenv("RELENGINE_STATE");
  ::unsetenv("RELENGINE_STATE_DIR");
  CHECK(default_location() == ".relengine");
  ::setenv("RELENGINE_STATE_DIR", "/srv/state", 1);
  CHECK(default_location() == "/srv/state");
  CHECK(state_dir_hint("/srv/state").empty());
  CHECK(state_dir_hint("other") == " --state-dir other");
  ::setenv("RELENGINE_STATE", "postgresql://db/r", 1);
  CHECK(default_location() == "postgresql://db/r");
  CHECK(state_dir_hint("postgresql://db/r").empty());
  ::unsetenv("RELENGINE_STATE");
  ::unsetenv("RELENGINE_STATE_DIR");
}

TEST_CASE("leases: another host's lease lives for the TTL after its last heartbeat, and a takeover is noted") {
  ::setenv("RELENGINE_HOST", "host-b", 1);
  ::setenv("RELENGINE_LEASE_TTL", "30", 1);
  CHECK(lease_ttl_seconds() == 30);
  RunRecord other;
  other.lease_pid = 4242;
  other.lease_host = "host-a";
  other.lease_heartbeat = unix_now() - 20;
  CHECK(lease_held_elsewhere(other));
  other.lease_heartbeat = unix_now() - 31;
  CHECK_FALSE(lease_held_elsewhere(other));
  CHECK(takeover_note(other).rfind("from pid 4242 on host host-a (last heartbeat 3", 0) == 0);
  RunRecord free_lease;
  CHECK(takeover_note(free_lease).empty());
  for (const char* bad : {"5", "abc", "100000", ""}) {
    ::setenv("RELENGINE_LEASE_TTL", bad, 1);
    CHECK(lease_ttl_seconds() == 60);
  }
  ::unsetenv("RELENGINE_LEASE_TTL");
  ::unsetenv("RELENGINE_HOST");
}

TEST_CASE("leases: a machine renamed while it drives a run still holds the lease, beats for it and releases it") {
  Dir d;
  auto store = SqliteStore::open(d.path.string(), true);
  store->create_run(sample_run("r1", "2026-01-01T00:00:00.000Z"), {});
  ::setenv("RELENGINE_HOST", "build-7", 1);
  store->acquire_lease("r1");
  // An old heartbeat, then the machine's name changes (hostnamectl, a DHCP lease).
  sqlite3* db = nullptr;
  sqlite3_open((d.path / "state.db").c_str(), &db);
  sqlite3_exec(db, "UPDATE runs SET lease_heartbeat = 1000 WHERE id = 'r1'", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ::setenv("RELENGINE_HOST", "build-7.example.com", 1);
  // Before: the heartbeat matched no row (it named the new host) and fence() found the lease its
  // own, so the heartbeat stopped without a word and other hosts saw the lease expire.
  store->heartbeat("r1");
  auto run = store->find_run("r1");
  CHECK(run->lease_host == "build-7");
  CHECK(run->lease_heartbeat > 1000);
  store->release_lease("r1");
  CHECK(store->find_run("r1")->lease_pid == 0);
  ::unsetenv("RELENGINE_HOST");
}

TEST_CASE("approve: only a step still waiting as the approver saw it, and the approval names who and where") {
  Dir d;
  auto store = SqliteStore::open(d.path.string(), true);
  store->create_run(sample_run("r1", "2026-12-01T10:00:00.000Z"), {});
  StepRecord gate;
  gate.id = gate.step = "gate";
  gate.phase = "p";
  gate.status = StepStatus::Waiting;
  gate.fingerprint = "fp1";
  store->save_step("r1", gate, "waiting");
  RunStore::Approval stale{"admin", "laptop", now_rfc3339(), "ok", "fp0"};
  CHECK_FALSE(store->approve("r1", "gate", stale));  // rendered anew since the approver looked
  CHECK(store->steps("r1")[0].approved_by.empty());
  RunStore::Approval a{"admin", "laptop", now_rfc3339(), "checked", "fp1"};
  CHECK(store->approve("r1", "gate", a));
  auto s = store->steps("r1")[0];
  CHECK(s.approved_by == "admin");
  CHECK(s.approved_host == "laptop");
  CHECK(s.approval_note == "checked");
  CHECK(s.approved_fingerprint == "fp1");
  CHECK(store->events("r1").back().transition == "approved");
  gate.status = StepStatus::Succeeded;
  store->save_step("r1", gate, "succeeded");
  CHECK_FALSE(store->approve("r1", "gate", a));  // no longer waiting
}
