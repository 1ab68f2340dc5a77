// End-to-end tests of the permissions of a run's state: private by default (the state directory
// 0700, state.db 0600, the logs 0700/0600), whatever the umask; an existing state directory keeps
// its own permissions, but what is created in it is private.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "run.h"

using namespace e2e;

namespace {

int mode_of(const fs::path& p) {  // the permission bits, -1 when absent
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

// Runs a one-step playbook that prints a line (so that its log holds what a tool printed), with
// umask 0: the engine's explicit modes must not depend on the umask.
Result run_once(const TempDir& tmp) {
  write(tmp / "p.yaml",
        "version: 1\nname: t\nphases:\n  - id: p\n    steps:\n      - id: say\n"
        "        idempotent: true\n        run: echo token=abc123\n");
  return shell("cd " + quote(tmp.path().string()) + " && umask 0 && " + quote(RELENGINE_BIN) +
               " --state-dir state run p.yaml");
}

// The one run's log under STATE/logs.
// The run's log of step output (logs/RUN.log), or with `engine` the engine's own (logs/RUN.engine.log).
fs::path run_log(const fs::path& state, bool engine = false) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state / "logs", ec))
    if ((e.path().string().find(".engine.") != std::string::npos) == engine) return e.path();
  return {};
}

}  // namespace

TEST_CASE("a run's state is private: the state directory 0700 and state.db 0600, whatever the umask") {
  E2E_SQLITE_ONLY();
  TempDir tmp;
  Result r = run_once(tmp);
  REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
  fs::path state = tmp / "state";
  CHECK(mode_of(state) == 0700);
  CHECK(mode_of(state / "state.db") == 0600);
  for (const char* side : {"state.db-wal", "state.db-shm"})  // removed when the last connection closes
    if (fs::exists(state / side)) CHECK(mode_of(state / side) == 0600);
}

TEST_CASE("an existing state directory keeps its permissions — the state.db created in it is 0600") {
  E2E_SQLITE_ONLY();
  TempDir tmp;
  REQUIRE(::mkdir((tmp / "state").c_str(), 0755) == 0);
  ::chmod((tmp / "state").c_str(), 0755);
  Result r = run_once(tmp);
  REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
  CHECK(mode_of(tmp / "state") == 0755);
  CHECK(mode_of(tmp / "state" / "state.db") == 0600);
}

// The log files are created by the Builder (exec/builder.cc) through io::make_private_dirs and
// io::open_private_file (engine/io/private_file.h).
TEST_CASE("a run's logs are private: logs/ 0700, the run's log file and the engine's 0600, whatever the umask") {
  E2E_SQLITE_ONLY();
  for (bool existing : {false, true}) {
    CAPTURE(existing);
    TempDir tmp;
    if (existing) {
      REQUIRE(::mkdir((tmp / "state").c_str(), 0755) == 0);
      ::chmod((tmp / "state").c_str(), 0755);
    }
    Result r = run_once(tmp);
    REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
    fs::path state = tmp / "state", log = run_log(state);
    REQUIRE(!log.empty());
    CHECK(log.extension() == ".log");
    CHECK(mode_of(state / "logs") == 0700);
    CHECK(slurp(log).find("token=abc123") != std::string::npos);
    CHECK(mode_of(log) == 0600);
    fs::path engine_log = run_log(state, true);
    REQUIRE(!engine_log.empty());
    CHECK(mode_of(engine_log) == 0600);
  }
}
