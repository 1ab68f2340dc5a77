// The engine's own log (spdlog): the decisions, commits, spawns, retries, signals and lease events
// of a small run, each line timestamped; secrets masked in it; the levels; its size cap; and a
// resume's reconciliation. On both stores (e2e/, e2e-pg/; on PostgreSQL the log is in
// .relengine/logs of the working directory).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

const std::string kSecret = "sekrit-EngineLog-4e1f";

struct Logged {
  TempDir dir;
  std::string state = (dir / "state").string();
  Logged() {
    write(dir / "p.yaml", R"YAML(version: 1
name: logged
inputs:
  token: {secret: true, env: LOG_TOKEN}
phases:
  - id: one
    steps:
      - id: a
        idempotent: true
        run: echo a
      - id: skip-me
        if: "false"
        idempotent: true
        run: echo never
      - id: flaky
        needs: [a]
        idempotent: true
        retry: {attempts: 2, delay: 10ms}
        run: |
          if [ ! -f flaked ]; then touch flaked; exit 3; fi
          echo fine
      - id: guarded
        needs: [flaky]
        idempotent: true
        preconditions:
          - run: test -f allowed || test "${{ inputs.token }}" = never
        run: echo guarded
)YAML");
  }
  Result rel(std::vector<std::string> args, const std::string& env = "") {
    args.insert(args.begin(), {"--state-dir", state});
    return relengine(args, dir.path().string(), "LOG_TOKEN=" + kSecret + " " + env);
  }
  fs::path log_dir() const { return on_postgres() ? dir / ".relengine" / "logs" : fs::path(state) / "logs"; }
  std::vector<fs::path> engine_logs() const {
    std::vector<fs::path> out;
    if (fs::exists(log_dir()))
      for (const auto& e : fs::directory_iterator(log_dir()))
        if (e.path().string().find(".engine.") != std::string::npos) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  // The current file (RUN.engine.log; the rotated ones are RUN.engine.1.log, ...).
  std::string engine_log() const {
    for (const auto& f : engine_logs())
      if (f.string().size() > 11 && f.string().substr(f.string().size() - 11) == ".engine.log") return slurp(f);
    return "";
  }
};

}  // namespace

TEST_CASE("engine.log: the decisions of a small run, timestamped, with secrets masked") {
  Logged l;
  Result r = l.rel({"--log-level", "debug", "run", "p.yaml"});
  REQUIRE(r.code == 1);  // `guarded`'s precondition fails
  auto logs = l.engine_logs();
  REQUIRE(logs.size() == 1);
  CHECK(slurp(logs[0]) == l.engine_log());
  std::string run_id = json::parse(l.rel({"runs", "--json"}).out)[0]["id"];
  CHECK(logs[0].filename() == run_id + ".engine.log");
  struct stat st {};
  REQUIRE(::stat(logs[0].c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::string text = slurp(logs[0]);
  CAPTURE(text);
  // Every line: an RFC 3339 UTC time with milliseconds, the level, the engine's pid.
  const std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trace|debug|info |warn |error) \[\d+\] .+)");
  for (const auto& each : lines(text)) {
    CAPTURE(each);
    CHECK(std::regex_match(each, line));
  }
  for (const std::string& expected :
       {"run " + run_id + " of p.yaml (sha256:", std::string("lease taken by pid "),
        std::string("decide a: start attempt 1"), std::string("decide skip-me: skipped, its condition is false"),
        std::string("spawn a action: pid "), std::string("exit a action: code 0"),
        std::string("commit 1 transition(s): a running"),
        std::string("flaky attempt 1 failed: exit code 3; retry 2 of 2 in 0.0s"),
        std::string("decide flaky: start attempt 2"), std::string("flaky succeeded after attempt 2"),
        std::string("spawn guarded precondition: pid "),
        std::string("guarded failed: precondition failed: test -f allowed || test \"***\" = never"),
        "run " + run_id + " failed (exit 1); lease released"}) {
    CAPTURE(expected);
    CHECK(text.find(expected) != std::string::npos);
  }
  // Decisions come in the order they were taken.
  CHECK(text.find("decide a: start") < text.find("decide flaky: start attempt 1"));
  CHECK(text.find("flaky attempt 1 failed") < text.find("decide flaky: start attempt 2"));
  CHECK(text.find(kSecret) == std::string::npos);

  // A resume: its reconciliation, then the run goes on, in the same file.
  write(l.dir / "allowed", "");
  REQUIRE(l.rel({"resume"}).code == 0);
  text = l.engine_log();
  CHECK(text.find("resume of run " + run_id) != std::string::npos);
  CHECK(text.find("reconcile guarded: ") != std::string::npos);
  CHECK(text.find("guarded succeeded after attempt 2") != std::string::npos);
  CHECK(text.find("run " + run_id + " succeeded (exit 0); lease released") != std::string::npos);
  CHECK(text.find(kSecret) == std::string::npos);
}

TEST_CASE("engine.log: levels from --log-level and RELENGINE_LOG, and off") {
  {
    Logged l;  // the default, info: decisions, but no spawns or commits
    REQUIRE(l.rel({"run", "p.yaml"}).code == 1);
    std::string text = l.engine_log();
    CHECK(text.find("decide a: start attempt 1") != std::string::npos);
    CHECK(text.find(" debug ") == std::string::npos);
    CHECK(text.find("spawn ") == std::string::npos);
  }
  {
    Logged l;  // RELENGINE_LOG=debug, and the flag over it
    REQUIRE(l.rel({"run", "p.yaml"}, "RELENGINE_LOG=debug").code == 1);
    CHECK(l.engine_log().find("spawn a action") != std::string::npos);
  }
  {
    Logged l;
    REQUIRE(l.rel({"--log-level", "warn", "run", "p.yaml"}, "RELENGINE_LOG=debug").code == 1);
    CHECK(l.engine_log().find("decide") == std::string::npos);
  }
  {
    Logged l;  // off: no file at all
    REQUIRE(l.rel({"run", "p.yaml"}, "RELENGINE_LOG=off").code == 1);
    CHECK(l.engine_logs().empty());
  }
  Logged l;
  Result bad = l.rel({"run", "p.yaml"}, "RELENGINE_LOG=loud");
  CHECK(bad.code == 2);
  CHECK(bad.err.find("RELENGINE_LOG: 'loud' is not one of trace, debug, info, warn, error, off") != std::string::npos);
  CHECK(l.rel({"--log-level", "loud", "run", "p.yaml"}).code == 2);
  Result size = l.rel({"run", "p.yaml"}, "RELENGINE_LOG_SIZE=12");
  CHECK(size.code == 2);
  CHECK(size.err.find("RELENGINE_LOG_SIZE: '12' is not a number of bytes from 4096") != std::string::npos);
}

TEST_CASE("engine.log: rotated at its size cap, three files at most") {
  Logged l;
  std::string p = "version: 1\nname: long\nphases:\n  - id: one\n    steps:\n";
  for (int i = 0; i < 150; ++i)
    p += "      - id: s" + std::to_string(i) + "\n        idempotent: true\n        run: \"true\"\n" +
         (i ? "        needs: [s" + std::to_string(i - 1) + "]\n" : "");
  write(l.dir / "long.yaml", p);
  REQUIRE(l.rel({"--log-level", "debug", "run", "long.yaml"}, "RELENGINE_LOG_SIZE=4096").code == 0);
  auto logs = l.engine_logs();
  CHECK(logs.size() == 3);  // the log and two rotated ones: older lines are dropped
  for (const auto& f : logs) {
    CAPTURE(f);
    CHECK(fs::file_size(f) <= 4096);
    bool rotated = f.string().find(".engine.log") == std::string::npos;
    if (rotated) CHECK(fs::file_size(f) > 2048);  // filled up to near the cap before it was rotated
  }
  CHECK(l.engine_log().find("succeeded (exit 0); lease released") != std::string::npos);  // the newest has the end
}

TEST_CASE("engine.log: a signal, and the steps it stopped") {
  Logged l;
  write(l.dir / "p.yaml",
        "version: 1\nname: sig\nphases:\n  - id: one\n    steps:\n      - id: long\n"
        "        idempotent: true\n        run: echo started > started; sleep 60\n");
  int pid = start_child({RELENGINE_BIN, "--state-dir", l.state, "run", "p.yaml"}, l.dir.path().string(),
                        (l.dir / "run.log").string());
  REQUIRE(eventually([&] { return fs::exists(l.dir / "started"); }));
  ::kill(pid, SIGTERM);
  CHECK(wait_child(pid) == 130);
  std::string text = l.engine_log();
  CHECK(text.find("signal 15 (Terminated): terminating the running steps") != std::string::npos);
  CHECK(text.find("interrupted (exit 130); lease released") != std::string::npos);
}
