// A run driven from two machines (two processes with distinct RELENGINE_HOST standing in for two
// hosts; e2e/ on SQLite, e2e-pg/ on PostgreSQL, where the hosts would really be apart): exactly
// one drives; the other is refused with the owner's host and pid; once the driver is killed
// (kill -9: a crashed host), its lease expires and the second takes over, finishes the run, and
// the journal records the takeover; every ledger line once.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

struct Driver {
  int pid = -1;
  ~Driver() {
    if (pid > 0 && wait_child(pid, 0) == -1) {
      ::kill(pid, SIGKILL);
      wait_child(pid);
    }
  }
};

// Writes DIR/p.yaml: a chain of `steps` steps s0, s1, ..., each appending its id to DIR/ledger
// unless its done_if finds it there (so an effect is never repeated); step `blocking` touches
// sN-started, then waits for DIR/go. And an empty ledger.
void ledger_playbook(const TempDir& dir, const std::string& name, int steps, int blocking) {
  std::string pb = "version: 1\nname: " + name + "\nphases:\n  - id: p\n    steps:\n";
  for (int i = 0; i < steps; ++i) {
    std::string id = "s" + std::to_string(i);
    pb += "      - id: " + id + "\n        done_if: grep -qx " + id + " ledger\n        run: " +
          (i == blocking ? "touch " + id + "-started; while [ ! -e go ]; do sleep 0.05; done; " : std::string()) +
          "echo " + id + " >> ledger\n";
  }
  write(dir / "p.yaml", pb);
  write(dir / "ledger", "");
}

// How often each line is in DIR/ledger.
std::map<std::string, int> ledger_counts(const TempDir& dir) {
  std::map<std::string, int> seen;
  for (const auto& l : lines(slurp(dir / "ledger"))) ++seen[l];
  return seen;
}

// relengine as host `host` (RELENGINE_HOST), its leases living 10 s.
std::vector<std::string> as_host(const std::string& state, const std::string& host, std::vector<std::string> args) {
  std::vector<std::string> argv = {
      "/usr/bin/env", "RELENGINE_HOST=" + host, "RELENGINE_LEASE_TTL=10", RELENGINE_BIN, "--state-dir", state};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Host B resumes the run until it is no longer refused (exit 4: the lease has not expired yet);
// its last exit code. Tries are bounded only against hanging.
int take_over(const TempDir& dir, const std::string& state, int& tries) {
  int code = 4;
  tries = 0;
  while (code == 4 && tries++ < 60) {
    Driver b;
    b.pid = start_child(as_host(state, "host-b", {"resume"}), dir.path().string(), (dir / "b.log").string());
    code = wait_child(b.pid);
    b.pid = -1;
    if (code == 4) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return code;
}

}  // namespace

TEST_CASE("two hosts, one run: one drives, the other waits for the lease to expire, takes over and finishes") {
  TempDir dir;
  const std::string state = (dir / "state").string();
  const int steps = 12;
  // s3 waits for `go` (created once host A has been killed while s3 ran): the kill lands mid-step.
  ledger_playbook(dir, "team", steps, 3);

  Driver a;
  a.pid = start_child(as_host(state, "host-a", {"run", "p.yaml"}), dir.path().string(), (dir / "a.log").string());
  REQUIRE(a.pid > 0);
  const int a_pid = a.pid;
  REQUIRE(eventually([&] { return fs::exists(dir / "s3-started"); }));

  // Host B, while A drives: refused, naming A.
  Driver b;
  b.pid = start_child(as_host(state, "host-b", {"resume"}), dir.path().string(), (dir / "b1.log").string());
  CHECK(wait_child(b.pid) == 4);
  b.pid = -1;
  std::string refused = slurp(dir / "b1.log");
  CHECK(refused.find("is being driven by pid " + std::to_string(a.pid) + " on host host-a") != std::string::npos);

  // Host A crashes.
  ::kill(a.pid, SIGKILL);
  CHECK(wait_child(a.pid) == 128 + SIGKILL);
  a.pid = -1;
  write(dir / "go", "");

  // Host B tries again until A's lease has expired (10 s without a heartbeat): each refusal is
  // exit 4, then it takes over and finishes. Tries are bounded only against hanging.
  int tries = 0;
  int code = take_over(dir, state, tries);
  INFO(slurp(dir / "b.log"));
  REQUIRE(code == 0);
  MESSAGE("host B took over after " << tries << " tries");

  // Every step's line exactly once; s3, killed mid-step, was resumed by host B.
  auto seen = ledger_counts(dir);
  CHECK(seen.size() == static_cast<std::size_t>(steps));
  for (const auto& [id, n] : seen) {
    CAPTURE(id);
    CHECK(n == 1);
  }
  json st = json::parse(relengine({"--state-dir", state, "status", "--json", "--journal"}, dir.path().string()).out);
  CHECK(st["status"] == "succeeded");
  CHECK_FALSE(st.contains("lease"));  // released at the end
  // The journal: the takeover, from host A's pid, once.
  int takeovers = 0;
  for (const auto& e : st["journal"])
    if (e["transition"] == "lease taken over") {
      ++takeovers;
      CHECK(e["message"].get<std::string>().find("from pid " + std::to_string(a_pid) + " on host host-a") == 0);
      // Only once it had expired: A's last heartbeat at least the TTL (10 s) before.
      std::string m = e["message"];
      auto at = m.find("(last heartbeat ");
      REQUIRE(at != std::string::npos);
      CHECK(std::stoi(m.substr(at + 16)) >= 10);
    }
  CHECK(takeovers == 1);
}

TEST_CASE("a gate that waits: run --wait goes on once another machine approves, and Ctrl-C leaves it waiting") {
  TempDir dir;
  const std::string state = (dir / "state").string();
  write(dir / "p.yaml",
        "version: 1\nname: wait\nphases:\n  - id: p\n    steps:\n      - id: tag-gate\n        manual: Push the tag?\n"
        "      - id: after\n        idempotent: true\n        run: touch after\n");
  auto gate_status = [&] {
    Result r = relengine({"--state-dir", state, "status", "--json"}, dir.path().string());
    if (r.out.empty()) return std::string();
    auto st = json::parse(r.out, nullptr, false);
    if (!st.is_object()) return std::string();
    for (const auto& s : st["steps"])
      if (s["id"] == "tag-gate") return s["status"].get<std::string>();
    return std::string();
  };

  // 1. Approved from another machine while the driver waits: it goes on, and finishes.
  Driver d;
  d.pid = start_child({RELENGINE_BIN, "--state-dir", state, "run", "p.yaml", "--wait"}, dir.path().string(),
                      (dir / "driver.log").string());
  REQUIRE(eventually([&] { return gate_status() == "waiting"; }));
  Result st = relengine({"--state-dir", state, "status"}, dir.path().string());
  CHECK(st.out.find("Waiting for approval:\n  tag-gate since ") != std::string::npos);
  CHECK(st.out.find("with --wait it goes on once approved") != std::string::npos);
  CHECK(wait_child(d.pid, 0) == -1);  // still running: it waits instead of exiting 3
  auto approved_at = std::chrono::steady_clock::now();
  json runs1 = json::parse(relengine({"--state-dir", state, "runs", "--json"}, dir.path().string()).out);
  Result a =
      relengine({"--state-dir", state, "approve", runs1[0]["id"], "tag-gate", "--as", "admin", "--note", "checked"},
                dir.path().string(), "RELENGINE_HOST=admin-laptop");
  REQUIRE_MESSAGE(a.code == 0, a.err);
  int code = wait_child(d.pid);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - approved_at).count();
  d.pid = -1;
  INFO(slurp(dir / "driver.log"));
  CHECK(code == 0);
  MESSAGE("the waiting driver finished " << seconds << " s after the approval"
                                         << std::string(on_postgres() ? " (NOTIFY)" : " (polling)"));
  CHECK(seconds < 5);  // within a second by design (NOTIFY, or a look every 0.5 s): this bounds only a hang
  CHECK(fs::exists(dir / "after"));
  CHECK(slurp(dir / "driver.log").find("tag-gate: approved by admin on admin-laptop: checked") != std::string::npos);
  json done = json::parse(relengine({"--state-dir", state, "status", "--json"}, dir.path().string()).out);
  CHECK(done["status"] == "succeeded");
  for (const auto& s : done["steps"])
    if (s["id"] == "tag-gate") {
      CHECK(s["approval"]["by"] == "admin");
      CHECK(s["approval"]["host"] == "admin-laptop");
      CHECK(s["approval"]["note"] == "checked");
    }

  // 2. Ctrl-C while waiting: the gate stays waiting, the run resumable; a second approval of a
  //    step no longer waiting is refused.
  fs::remove(dir / "after");
  Driver e;
  const std::string state2 = (dir / "state2").string();
  e.pid = start_child({RELENGINE_BIN, "--state-dir", state2, "run", "p.yaml", "--wait"}, dir.path().string(),
                      (dir / "driver2.log").string());
  auto gate2 = [&] {
    Result r = relengine({"--state-dir", state2, "status", "--json"}, dir.path().string());
    auto j = json::parse(r.out, nullptr, false);
    if (!j.is_object()) return std::string();
    for (const auto& s : j["steps"])
      if (s["id"] == "tag-gate") return s["status"].get<std::string>();
    return std::string();
  };
  REQUIRE(eventually([&] { return gate2() == "waiting"; }));
  REQUIRE(eventually([&] { return slurp(dir / "driver2.log").find("Ctrl-C stops waiting") != std::string::npos; }));
  ::kill(e.pid, SIGINT);
  CHECK(wait_child(e.pid) == 130);
  e.pid = -1;
  CHECK(gate2() == "waiting");
  CHECK_FALSE(fs::exists(dir / "after"));
  Result resumed = relengine({"--state-dir", state2, "resume", "--auto-approve"}, dir.path().string());
  CHECK(resumed.code == 0);
  CHECK(fs::exists(dir / "after"));
  json runs = json::parse(relengine({"--state-dir", state2, "runs", "--json"}, dir.path().string()).out);
  Result again = relengine({"--state-dir", state2, "approve", runs[0]["id"], "tag-gate"}, dir.path().string());
  CHECK(again.code == 2);
}

namespace {

// A PostgreSQL server of the test's own (tests/pg/pg-server), in a directory directly under /tmp
// (a server run as nobody must be able to reach it), stopped and removed at the end.
struct OwnServer {
  std::string dir, url, script = std::string(SOURCE_DIR) + "/tests/pg/pg-server";
  int code = -1;
  std::string why;
  OwnServer() {
    char tmpl[] = "/tmp/relengine-pg-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    ::chmod(dir.c_str(), 0755);
    Result r = shell("bash " + quote(script) + " start " + quote(dir + "/pg"));
    code = r.code;
    url = r.out.substr(0, r.out.find('\n'));
    why = r.err;
  }
  ~OwnServer() {
    if (dir.empty()) return;
    shell("bash " + quote(script) + " stop " + quote(dir + "/pg"));
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  Result restart() const { return shell("bash " + quote(script) + " restart " + quote(dir + "/pg")); }
};

}  // namespace

TEST_CASE(
    "PostgreSQL restarted in the middle of a 200-step run: exit 4 with the reason, then resume finishes it, every "
    "effect once") {
  if (on_postgres()) {
    MESSAGE("runs in e2e/, with a PostgreSQL server of its own (restarting the shared one would disturb other tests)");
    return;
  }
  OwnServer pg;
  if (pg.code == 77) {
    MESSAGE("NOT TESTED: PostgreSQL is not installed here (" << pg.why << ")");
    return;
  }
  REQUIRE_MESSAGE(pg.code == 0, pg.why);
  TempDir dir;
  const std::string url = pg.url + "&options=-csearch_path%3Dfaults";
  const int steps = 200;
  ledger_playbook(dir, "faults", steps, 50);
  Driver d;
  d.pid =
      start_child({RELENGINE_BIN, "--state", url, "run", "p.yaml"}, dir.path().string(), (dir / "run.log").string());
  REQUIRE(eventually([&] { return fs::exists(dir / "s50-started"); }));
  Result restarted = pg.restart();  // the database goes away under the running step, and comes back
  REQUIRE_MESSAGE(restarted.code == 0, restarted.err);
  write(dir / "go", "");
  int code = wait_child(d.pid);
  d.pid = -1;
  std::string log = slurp(dir / "run.log");
  INFO(log);
  CHECK(code == 4);  // the state problem: s50's result could not be recorded
  CHECK(log.find("lost the connection to the PostgreSQL store") != std::string::npos);
  // Nothing started after it: s50's effect is there, no later step's; and the console shows no
  // transition the store does not have (s50's result and s51's start were one failed commit).
  CHECK(log.find("s51: running") == std::string::npos);
  std::string before = slurp(dir / "ledger");
  CHECK(before.find("s50\n") != std::string::npos);
  CHECK(before.find("s51\n") == std::string::npos);

  Result resumed = relengine({"--state", url, "resume"}, dir.path().string());
  INFO(resumed.out << resumed.err);
  CHECK(resumed.code == 0);
  auto seen = ledger_counts(dir);
  CHECK(seen.size() == static_cast<std::size_t>(steps));
  for (const auto& [id, n] : seen) {
    CAPTURE(id);
    CHECK(n == 1);
  }
}

TEST_CASE(
    "the PostgreSQL store: a password in the URL is never printed; a database of a newer relengine is refused, "
    "untouched") {
  if (!on_postgres()) {
    MESSAGE("about the PostgreSQL store: runs in e2e-pg/");
    return;
  }
  TempDir dir;
  write(dir / "p.yaml",
        "version: 1\nname: pw\nphases:\n  - id: p\n    steps:\n      - id: gate\n        manual: ok?\n");
  // The test server trusts its socket, so any password is accepted, and must never be shown.
  const std::string url = state_location((dir / "state").string()) + "&password=Sup3rSecretPw";
  std::string all;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"run", "p.yaml"}, {"status"}, {"status", "--json"}, {"runs"}, {"resume"}}) {
    args.insert(args.begin(), {"--state", url});
    Result r = relengine(args, dir.path().string());
    all += r.out + r.err;
  }
  CHECK(all.find("password=***") != std::string::npos);  // the store is named, masked
  CHECK(all.find("Sup3rSecretPw") == std::string::npos);

  // A newer relengine's schema: refused with exit 4, nothing written.
  Result bump = shell("psql -qAt " + quote(url) + " -c \"UPDATE meta SET value = '99' WHERE key = 'schema_version'\"");
  REQUIRE_MESSAGE(bump.code == 0, bump.err);
  std::string before = shell("psql -qAt " + quote(url) + " -c 'SELECT count(*) FROM events'").out;
  Result r = relengine({"--state", url, "status"}, dir.path().string());
  CHECK(r.code == 4);
  CHECK(r.err.find("newer relengine (state schema 99") != std::string::npos);
  r = relengine({"--state", url, "resume", "--auto-approve"}, dir.path().string());
  CHECK(r.code == 4);
  CHECK(shell("psql -qAt " + quote(url) + " -c 'SELECT count(*) FROM events'").out == before);
  CHECK(shell("psql -qAt " + quote(url) + " -c \"SELECT value FROM meta WHERE key = 'schema_version'\"").out == "99\n");
}

TEST_CASE(
    "fencing: a driver that was silent past its lease (stopped, partitioned) finds it taken over and records nothing "
    "more") {
  TempDir dir;
  const std::string state = (dir / "state").string();
  ledger_playbook(dir, "fence", 6, 2);
  Driver a;
  a.pid = start_child(as_host(state, "host-a", {"run", "p.yaml"}), dir.path().string(), (dir / "a.log").string());
  REQUIRE(eventually([&] { return fs::exists(dir / "s2-started"); }));
  ::kill(a.pid, SIGSTOP);  // host A goes silent: no heartbeat, no writes
  write(dir / "go", "");   // (A's step may finish meanwhile; A cannot look)

  int tries = 0;
  int code = take_over(dir, state, tries);
  REQUIRE_MESSAGE(code == 0, slurp(dir / "b.log"));
  json before =
      json::parse(relengine({"--state-dir", state, "status", "--json", "--journal"}, dir.path().string()).out);

  ::kill(a.pid, SIGCONT);  // host A is back, and finds its lease gone
  int a_code = wait_child(a.pid);
  a.pid = -1;
  std::string a_log = slurp(dir / "a.log");
  INFO(a_log);
  CHECK(a_code == 4);
  CHECK(a_log.find("lost the lease of run") != std::string::npos);
  json after = json::parse(relengine({"--state-dir", state, "status", "--json", "--journal"}, dir.path().string()).out);
  CHECK(after["status"] == "succeeded");
  CHECK(after["journal"].size() == before["journal"].size());  // A recorded nothing more
  CHECK(after["steps"] == before["steps"]);
  auto seen = ledger_counts(dir);
  CHECK(seen.size() == 6u);
  for (const auto& [id, n] : seen) {
    CAPTURE(id);
    CHECK(n == 1);
  }
}

TEST_CASE("six drivers start the same new --run-id at once: one run, every effect once, the others told why") {
  TempDir dir;
  ledger_playbook(dir, "race", 3, -1);
  std::string state = state_location((dir / "state").string());
  // All six are started before any of them can have created the run: each finds no run ID, loads
  // the playbook, and creates it; one insert wins.
  std::string cmd = "cd " + quote(dir.path().string()) + " && for i in 1 2 3 4 5 6; do (" + quote(RELENGINE_BIN) +
                    " --state-dir " + quote(state) +
                    " run p.yaml --run-id gh-42 > out.$i 2> err.$i; echo $? > rc.$i) & done; wait";
  REQUIRE(shell(cmd).code == 0);
  int succeeded = 0;
  for (int i = 1; i <= 6; ++i) {
    std::string n = std::to_string(i);
    std::string rc = slurp(dir / ("rc." + n)), err = slurp(dir / ("err." + n));
    CAPTURE(n);
    CAPTURE(err);
    if (rc == "0\n") {
      ++succeeded;
      continue;
    }
    // A driver that finds the run created (before it looks, or when its own insert is refused)
    // continues it, refused while another drives it; or the database was busy. Never the store's
    // own words for a duplicate key.
    CHECK(rc == "4\n");
    CHECK((err.find("is being driven by pid") != std::string::npos ||
           err.find("locked by another process") != std::string::npos));
    CHECK(err.find("UNIQUE") == std::string::npos);
    CHECK(err.find("duplicate key") == std::string::npos);
  }
  CHECK(succeeded >= 1);
  // One run, and each step's effect once whoever ran it.
  Result runs = relengine({"--state-dir", (dir / "state").string(), "runs"}, dir.path().string());
  CHECK(lines(runs.out).size() == 1);  // gh-42, only
  CHECK(runs.out.find("gh-42") != std::string::npos);
  auto seen = ledger_counts(dir);
  CHECK(seen.size() == 3);
  for (const auto& [line, count] : seen) CHECK_MESSAGE(count == 1, line);
}
