// End-to-end tests of run, resume, approve, status, runs and logs on the real binary, with
// real processes: ordering and -j, conditions, done_if, preconditions, verify, retries,
// timeouts, outputs, for_each, gates, resume after a fix / an edit / a changed input,
// crashes (SIGKILL), SIGTERM, a second driver, a corrupt state file, secrets, locks.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

struct Sandbox {
  TempDir dir;
  std::vector<int> engines;  // started by spawn: killed and reaped at the end if still running
  ~Sandbox() {
    for (int pid : engines)
      if (wait_child(pid, 0) == -1) {
        ::kill(pid, SIGKILL);
        wait_child(pid);
      }
  }
  std::string state() const { return (dir / "state").string(); }
  std::string pb(const std::string& name = "p.yaml") const { return (dir / name).string(); }
  void playbook(const std::string& text, const std::string& name = "p.yaml") { write(dir / name, text); }
  Result run(std::vector<std::string> args, const std::string& env = "") {
    args.insert(args.begin(), {"--state-dir", state()});
    return relengine(args, dir.path().string(), env);
  }
  json status() {
    Result r = run({"status", "--json"});
    return json::parse(r.out);
  }
  json step(const std::string& id) {
    json st = status();
    for (const auto& s : st["steps"])
      if (s["id"] == id) return s;
    FAIL("no step " << id);
    return {};
  }
  std::string read(const std::string& name) const { return slurp(dir / name); }
  bool exists(const std::string& name) const { return fs::exists(dir / name); }
  // Starts `relengine ARGS` in the background, as a child of the test (output in bg.out);
  // returns its pid, for wait_child.
  int spawn(std::vector<std::string> args) {
    args.insert(args.begin(), {RELENGINE_BIN, "--state-dir", state()});
    engines.push_back(start_child(args, dir.path().string(), (dir / "bg.out").string()));
    return engines.back();
  }
  bool wait_for_file(const std::string& name) const {
    return eventually([&] { return fs::exists(dir / name); });
  }
  // The pid a step wrote into `name` (with `echo $! > name`), once the whole line is there.
  int wait_for_pid(const std::string& name) const {
    std::string text = wait_for_line(dir / name);
    REQUIRE_MESSAGE(!text.empty(), name << " was not written");
    return std::stoi(text);
  }
};

// A process that is not the test's child (a step's) has ended (or is a zombie).
bool gone(int pid) {
  return eventually([&] { return !alive(pid); });
}

const char* kHead = "version: 1\nname: t\n";

}  // namespace

TEST_CASE("sequence by default — independent steps overlap with -j2 and not with -j1") {
  Sandbox sb;
  // With RELENGINE_E2E_MEET set, each slow step waits for the other to start before it ends:
  // with -j2 they must overlap (a step fails if the other never starts within a minute); no
  // sleep is assumed long enough. Without it (-j1), each sleeps, so that steps run together by
  // mistake would interleave.
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: a
        idempotent: true
        run: echo a >> order
      - id: b
        idempotent: true
        run: echo b >> order
      - id: slow1
        needs: []
        idempotent: true
        run: |
          echo start1 >> trace
          if [ -n "$RELENGINE_E2E_MEET" ]; then i=0; until grep -qx start2 trace; do i=$((i+1)); [ $i -le 1200 ]; sleep 0.05; done
          else sleep 0.6; fi
          echo end1 >> trace
      - id: slow2
        needs: []
        idempotent: true
        run: |
          echo start2 >> trace
          if [ -n "$RELENGINE_E2E_MEET" ]; then i=0; until grep -qx start1 trace; do i=$((i+1)); [ $i -le 1200 ]; sleep 0.05; done
          else sleep 0.6; fi
          echo end2 >> trace
)");
  Result r = sb.run({"run", sb.pb(), "-j", "2"}, "RELENGINE_E2E_MEET=1");
  CHECK(r.code == 0);
  CHECK(sb.read("order") == "a\nb\n");
  auto trace = lines(sb.read("trace"));
  REQUIRE(trace.size() == 4);
  CHECK(trace[0].rfind("start", 0) == 0);
  CHECK(trace[1].rfind("start", 0) == 0);  // both started before either ended

  fs::remove(sb.dir / "trace");
  r = sb.run({"run", sb.pb(), "-j", "1"});
  CHECK(r.code == 0);
  trace = lines(sb.read("trace"));
  REQUIRE(trace.size() == 4);
  CHECK(trace[1].rfind("end", 0) == 0);
}

TEST_CASE("if, done_if, preconditions (not retried), verify, retries with backoff") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(inputs:
  flag: {type: bool, default: false}
phases:
  - id: p
    steps:
      - id: skipped
        if: ${{ inputs.flag }}
        idempotent: true
        run: touch should-not-exist
      - id: done
        done_if: "true"
        run: touch should-not-exist-either
      - id: flaky
        needs: []
        retry: {attempts: 3, delay: 100ms, backoff: 2}
        idempotent: true
        run: |
          n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
          test $n -ge 3
      - id: guarded
        needs: []
        retry: {attempts: 3, delay: 100ms}
        preconditions:
          - run: test -f missing-file
            message: missing-file is not there
        idempotent: true
        run: touch should-not-run
      - id: verified
        needs: []
        idempotent: true
        run: echo hi
        verify: test -f never-there
)");
  Result r = sb.run({"run", sb.pb()});
  CHECK(r.code == 1);
  CHECK(!sb.exists("should-not-exist"));
  CHECK(!sb.exists("should-not-exist-either"));
  CHECK(!sb.exists("should-not-run"));
  CHECK(sb.step("skipped")["status"] == "skipped");
  CHECK(sb.step("skipped")["reason"] == "condition");
  CHECK(sb.step("done")["reason"] == "done");
  CHECK(sb.step("flaky")["status"] == "succeeded");
  CHECK(sb.step("flaky")["attempts"] == 3);
  CHECK(sb.read("count") == "3\n");
  CHECK(sb.step("guarded")["status"] == "failed");
  CHECK(sb.step("guarded")["attempts"] == 1);
  CHECK(sb.step("guarded")["message"] == "precondition failed: missing-file is not there");
  CHECK(sb.step("verified")["status"] == "failed");
  CHECK(sb.step("verified")["message"].get<std::string>().find("verify failed") == 0);
  CHECK(r.out.find("Step guarded failed") != std::string::npos);
  CHECK(r.out.find("resume") != std::string::npos);
}

TEST_CASE("a timeout kills the step's whole process group") {
  Sandbox sb;
  // The timeout starts with the attempt: a machine too slow to start the background child and
  // record its pid within it leaves nothing to check, so the run is repeated with a longer one.
  int child = 0;
  for (int seconds : {1, 4, 16}) {
    CAPTURE(seconds);
    sb.playbook(std::string(kHead) + "phases:\n  - id: p\n    steps:\n      - id: hang\n        timeout: " +
                std::to_string(seconds) + "s\n        idempotent: true\n" + R"(        run: |
          sleep 300 &
          echo $! > child.tmp && mv child.tmp child.pid
          sleep 300
)");
    Result r = sb.run({"run", sb.pb()});
    CHECK(r.code == 1);
    CHECK(sb.step("hang")["message"] == "timed out after " + std::to_string(seconds) + ".0s");
    if (sb.exists("child.pid")) {
      child = std::stoi(sb.read("child.pid"));
      break;
    }
    MESSAGE("the step had not started its child when its " << seconds << "s ran out; again with a longer timeout");
  }
  REQUIRE(child > 0);
  CHECK(gone(child));
}

TEST_CASE("outputs flow to later steps and survive a resume — for_each binds item") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: make
        idempotent: true
        run: echo "sha=abc123" >> "$RELENGINE_OUTPUT"
      - id: each
        for_each: [x, y]
        idempotent: true
        run: echo "${{ item }} $RELENGINE_ITEM ${{ steps.make.outputs.sha }}" >> items
      - id: gate
        manual: check
      - id: late
        idempotent: true
        run: echo "${{ steps.make.outputs.sha }} ${{ steps.each[y].status }}" > late
)");
  Result r = sb.run({"run", sb.pb()});
  CHECK(r.code == 3);
  auto items = lines(sb.read("items"));  // the instances run in parallel: any order
  std::sort(items.begin(), items.end());
  CHECK(items == std::vector<std::string>{"x x abc123", "y y abc123"});
  CHECK(sb.step("make")["outputs"]["sha"] == "abc123");
  std::string run_id = sb.status()["id"];
  r = sb.run({"approve", run_id, "gate", "--note", "looked fine"});
  CHECK(r.code == 0);
  r = sb.run({"resume"});
  CHECK(r.code == 0);
  CHECK(sb.read("late") == "abc123 succeeded\n");
  CHECK(sb.step("gate")["approval"]["note"] == "looked fine");
  CHECK(sb.step("make")["attempts"] == 1);  // not repeated by the resume
}

TEST_CASE("gates: pause with the approve command, auto-approve, irreversible needs --yes") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: gate
        manual: Ask an admin to lock main
      - id: push
        irreversible: true
        idempotent: true
        run: touch pushed
)");
  Result r = sb.run({"run", sb.pb()});
  CHECK(r.code == 3);
  std::string id = sb.status()["id"];
  CHECK(r.out.find("relengine " + state_flag(sb.state()) + " approve " + id + " gate") != std::string::npos);
  CHECK(sb.status()["status"] == "paused");
  CHECK(sb.run({"status"}).code == 3);
  CHECK(sb.run({"approve", id, "push"}).code == 2);  // not waiting yet
  CHECK(sb.run({"approve", id, "nope"}).code == 2);
  CHECK(sb.run({"approve", "no-such-run", "gate"}).code == 4);

  r = sb.run({"run", sb.pb(), "--auto-approve"});
  CHECK(r.code == 3);  // the gate passes, the irreversible step still needs --yes
  CHECK(sb.step("gate")["approval"]["auto"] == true);
  CHECK(sb.step("push")["status"] == "waiting");
  CHECK(!sb.exists("pushed"));
  r = sb.run({"resume", "--yes"});
  CHECK(r.code == 0);
  CHECK(sb.exists("pushed"));
}

TEST_CASE("resume after a fix, after an edit of a succeeded step, with a changed input, and --rerun-phase") {
  Sandbox sb;
  auto text = [](const std::string& second, const std::string& first_cmd) {
    return std::string(kHead) +
           "inputs:\n  v: {default: one}\nphases:\n  - id: p\n    steps:\n"
           "      - id: first\n        idempotent: true\n        run: " +
           first_cmd +
           "\n"
           "      - id: second\n        idempotent: true\n        run: " +
           second +
           "\n"
           "  - id: q\n    steps:\n      - id: third\n        idempotent: true\n        run: echo ${{ inputs.v }} >> "
           "third\n";
  };
  sb.playbook(text("exit 3", "echo first >> first"));
  Result r = sb.run({"run", sb.pb()});
  CHECK(r.code == 1);
  CHECK(sb.step("third")["status"] == "cancelled");

  sb.playbook(text("echo fixed >> second", "echo first >> first"));  // the fix
  r = sb.run({"resume"});
  CHECK(r.code == 0);
  CHECK(sb.read("first") == "first\n");  // not repeated
  CHECK(sb.read("second") == "fixed\n");
  CHECK(sb.read("third") == "one\n");

  sb.playbook(text("echo fixed >> second", "echo first-edited >> first"));  // an edit of a succeeded step
  r = sb.run({"resume"});
  CHECK(r.code == 0);
  CHECK(r.out.find("first (changed since it ran)") != std::string::npos);
  CHECK(sb.read("first") == "first\nfirst-edited\n");
  CHECK(sb.read("second") == "fixed\n");

  r = sb.run({"resume", "--set", "v=two"});  // a changed input reruns the steps that use it
  CHECK(r.code == 0);
  CHECK(sb.read("third") == "one\ntwo\n");
  CHECK(sb.read("second") == "fixed\n");

  r = sb.run({"resume", "--rerun-phase", "p"});
  CHECK(r.code == 0);
  CHECK(sb.read("second") == "fixed\nfixed\n");
  CHECK(sb.read("third") == "one\ntwo\ntwo\n");  // downstream of the phase, with the recorded input
  CHECK(sb.status()["inputs"]["v"] == "two");
}

TEST_CASE("resume validates an edited playbook in full — an unchanged one resumes without a schema pass") {
  Sandbox sb;
  auto text = [](const std::string& extra) {
    return std::string(kHead) +
           "phases:\n  - id: p\n    steps:\n"
           "      - id: first\n        idempotent: true\n        run: echo first >> first\n"
           "      - id: second\n        idempotent: true\n" +
           extra + "        run: test -f fixed\n";
  };
  sb.playbook(text(""));
  Result r = sb.run({"run", sb.pb()});
  CHECK(r.code == 1);
  // A schema error introduced after the run: same run, different bytes, so every check runs again.
  sb.playbook(text("        nedds: [first]\n"));
  r = sb.run({"resume"});
  CHECK(r.code == 2);
  CHECK(r.err.find("p.yaml:11:9") != std::string::npos);
  CHECK(r.err.find("unknown key 'nedds'") != std::string::npos);
  // Put back as it ran: resumes (the checks that passed for these bytes are not repeated).
  sb.playbook(text(""));
  write(sb.dir / "fixed", "");
  r = sb.run({"resume"});
  CHECK(r.code == 0);
  CHECK(sb.read("first") == "first\n");
}

TEST_CASE("logs: every attempt in the run's one log file, in order, and the earlier layouts still read") {
  E2E_SQLITE_ONLY();
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: flaky
        retry: {attempts: 3, delay: 10ms}
        idempotent: true
        run: |
          n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
          echo "try $n"
          test $n -ge 2
)");
  Result r = sb.run({"run", sb.pb()});
  REQUIRE(r.code == 0);
  std::string id = sb.status()["id"];
  fs::path logs = fs::path(sb.state()) / "logs", dir = logs / id;
  CHECK(fs::exists(logs / (id + ".log")));
  CHECK_FALSE(fs::exists(dir));  // no file, no directory per attempt or step
  std::string out = sb.run({"logs", id, "flaky"}).out;
  auto first = out.find("=== flaky attempt 1 ===\n==> run\ntry 1\n");
  auto second = out.find("=== flaky attempt 2 ===\n==> run\ntry 2\n");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(first < second);
  // A run recorded by an earlier relengine kept a file per attempt: RUN/STEP.attempt-N.log, and
  // before that RUN/STEP/attempt-N.log; resumed by this one, its later attempts are in RUN.log.
  std::string one = "==> run\ntry 1\n", two = "==> run\ntry 2\n";
  fs::create_directories(dir / "flaky");
  std::ofstream(dir / "flaky.attempt-1.log") << one;
  std::ofstream(dir / "flaky.attempt-2.log") << two;
  fs::rename(logs / (id + ".log"), logs / "kept");
  CHECK(sb.run({"logs", id, "flaky"}).out == out);
  fs::rename(dir / "flaky.attempt-1.log", dir / "flaky" / "attempt-1.log");
  fs::rename(dir / "flaky.attempt-2.log", dir / "flaky" / "attempt-2.log");
  CHECK(sb.run({"logs", id, "flaky"}).out == out);
  fs::remove(dir / "flaky" / "attempt-2.log");
  fs::rename(logs / "kept", logs / (id + ".log"));
  CHECK(sb.run({"logs", id, "flaky"}).out == out);  // attempt 1 from its file, 2 from the run's log
}

TEST_CASE("logs: a run's log cut off in a record (killed during a write) is cut back on resume, and still reads") {
  E2E_SQLITE_ONLY();
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"Y(phases:
  - id: p
    steps:
      - id: a
        idempotent: true
        run: echo alpha
      - id: b
        idempotent: true
        run: |
          echo "beta $(cat fixed 2>/dev/null || echo broken)"
          test -f fixed
)Y");
  REQUIRE(sb.run({"run", sb.pb()}).code == 1);
  std::string id = sb.status()["id"];
  fs::path log = fs::path(sb.state()) / "logs" / (id + ".log");
  std::string whole = slurp(log);
  auto cut = whole.find("beta broken");
  REQUIRE(cut != std::string::npos);
  fs::resize_file(log, cut + 3);  // b's last record ends in the middle: "bet"
  CHECK(sb.run({"logs", id, "a"}).out == "=== a attempt 1 ===\n==> run\nalpha\n");
  CHECK(sb.run({"logs", id, "b"}).out.find("beta") == std::string::npos);  // the torn record is not shown
  write(sb.dir / "fixed", "fixed");
  REQUIRE(sb.run({"resume"}).code == 0);
  CHECK(slurp(log).find("bet\x1e") == std::string::npos);  // the engine cut the torn record off first
  CHECK(sb.run({"logs", id, "a"}).out == "=== a attempt 1 ===\n==> run\nalpha\n");
  std::string b = sb.run({"logs", id, "b"}).out;
  CHECK(b.find("=== b attempt 2 ===\n==> run\nbeta fixed\n") != std::string::npos);
}

TEST_CASE("crash safety: SIGKILL of the engine mid-step leaves no step process — resume does each effect once") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: one
        done_if: grep -qx one ledger
        run: echo one >> ledger
      - id: two
        done_if: grep -qx two ledger
        run: |
          echo two >> ledger
          echo "token=hunter2" >> "$RELENGINE_OUTPUT"
          dirname "$RELENGINE_OUTPUT" > outdir
          sleep 300 &
          echo $! > bg.pid
          echo $$ > fg.pid
          sleep 300
      - id: three
        done_if: grep -qx three ledger
        run: echo three >> ledger
)");
  write(sb.dir / "ledger", "");
  int engine = sb.spawn({"run", sb.pb()});
  int fg = sb.wait_for_pid("fg.pid");
  int bg = std::stoi(sb.read("bg.pid"));  // written before fg.pid
  CHECK(alive(bg));
  ::kill(engine, SIGKILL);
  CHECK(wait_child(engine) == 128 + SIGKILL);  // reaped: certainly gone before anything below
  CHECK(gone(bg));
  CHECK(gone(fg));
  CHECK(sb.step("two")["status"] == "running");
  CHECK(sb.status()["status"] == "interrupted");  // its driver is dead
  Result r = sb.run({"resume"});
  CHECK(r.code == 0);
  CHECK(sb.read("ledger") == "one\ntwo\nthree\n");
  CHECK(sb.step("two")["reason"] == "done");
  // The killed engine's outputs directory (a step may write a secret there) is gone too.
  std::string outdir = sb.read("outdir");
  outdir.erase(outdir.find_last_not_of('\n') + 1);
  CHECK(outdir.find("relengine-outputs-" + std::to_string(engine) + "-") != std::string::npos);
  CHECK_FALSE(fs::exists(outdir));
}

TEST_CASE("crash safety holds when the supervisor itself was killed: a new one learns every running group") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: long
        needs: []
        idempotent: true
        run: |
          sleep 300 &
          echo $! > long.pid
          wait
      - id: killer
        needs: []
        idempotent: true
        run: |
          while [ ! -f long.pid ]; do sleep 0.05; done
          pkill -KILL -P $PPID -f 'relengine-[s]upervise'
          while pgrep -P $PPID -f 'relengine-[s]upervise --groups' >/dev/null; do sleep 0.05; done
      - id: after
        needs: [killer]
        idempotent: true
        run: |
          sleep 300 &
          echo $! > after.pid
          wait
      - id: waiter
        needs: []
        idempotent: true
        run: i=0; until [ -f go ]; do i=$((i+1)); [ $i -le 1200 ]; sleep 0.05; done
)");
  int engine = sb.spawn({"run", sb.pb(), "-j", "4"});
  int second = sb.wait_for_pid("after.pid");
  int first = sb.wait_for_pid("long.pid");
  REQUIRE(alive(first));
  REQUIRE(alive(second));
  // Kill the second supervisor too, with no command left to start: the heartbeat (every 5 s)
  // replaces it and tells the new one every running group, in the same turn of the engine's
  // event loop. A later event of that loop, `waiter` recorded as finished after a new supervisor
  // has appeared, shows that the turn is over; no sleep is assumed to cover a heartbeat.
  auto supervisor = [&] {
    Result r = shell("pgrep -P " + std::to_string(engine) + " -f 'relengine-[s]upervise --groups'");
    return r.code == 0 ? std::stoi(r.out) : 0;
  };
  int old = supervisor();
  REQUIRE(old > 0);
  ::kill(old, SIGKILL);
  REQUIRE(eventually([&] {
    int now = supervisor();
    return now > 0 && now != old;
  }));
  write(sb.dir / "go", "");
  REQUIRE(eventually([&] { return sb.step("waiter")["status"] == "succeeded"; }));
  ::kill(engine, SIGKILL);
  CHECK(wait_child(engine) == 128 + SIGKILL);
  // `long` started under the first supervisor, which is dead: only the second one's knowledge,
  // replayed by the engine when it started it, then the third's, can end it.
  CHECK(gone(first));
  CHECK(gone(second));
}

TEST_CASE("the engine's supervisor is gone, not a zombie, once the engine has ended") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: find
        idempotent: true
        run: pgrep -P $PPID -f 'relengine-[s]upervise --groups' > supervisor.pid
)");
  Result r = sb.run({"run", sb.pb()});
  REQUIRE(r.code == 0);
  int pid = std::stoi(sb.read("supervisor.pid"));
  CHECK(pid > 0);
  CHECK_FALSE(fs::exists("/proc/" + std::to_string(pid)));  // waited for: no zombie left for init
}

TEST_CASE("SIGTERM stops running steps, records them interrupted and exits 130") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: long
        idempotent: true
        run: echo $$ > fg.pid; sleep 300
)");
  int engine = sb.spawn({"run", sb.pb()});
  int fg = sb.wait_for_pid("fg.pid");
  ::kill(engine, SIGTERM);
  CHECK(wait_child(engine) == 130);
  CHECK(gone(fg));
  CHECK(sb.step("long")["status"] == "interrupted");
  CHECK(sb.status()["status"] == "interrupted");
  CHECK(sb.run({"status"}).code == 130);
  CHECK(sb.read("bg.out").find("interrupted") != std::string::npos);
}

TEST_CASE("a second driver of a live run gets exit 4 naming pid and host") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: long
        idempotent: true
        run: touch started; sleep 300
)");
  int engine = sb.spawn({"run", sb.pb()});
  REQUIRE(sb.wait_for_file("started"));
  Result r = sb.run({"resume"});
  CHECK(r.code == 4);
  CHECK(r.err.find("is being driven by pid " + std::to_string(engine) + " on host ") != std::string::npos);
  ::kill(engine, SIGTERM);
  CHECK(wait_child(engine) == 130);
}

TEST_CASE("a corrupt or foreign state.db gets exit 4 and is left byte-identical") {
  E2E_SQLITE_ONLY();
  Sandbox sb;
  sb.playbook(std::string(kHead) + "phases:\n  - id: p\n    steps:\n      - {id: a, run: 'true', idempotent: true}\n");
  REQUIRE(sb.run({"run", sb.pb()}).code == 0);
  fs::path db = fs::path(sb.state()) / "state.db";
  // Corrupt the middle of the database file.
  std::string bytes = slurp(db);
  REQUIRE(bytes.size() > 4096);
  for (std::size_t i = 100; i < bytes.size(); i += 7) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  write(db, bytes);
  for (std::vector<std::string> args : {std::vector<std::string>{"status"}, {"runs"}, {"resume"}, {"run", sb.pb()}}) {
    CAPTURE(args[0]);
    Result r = sb.run(args);
    CHECK(r.code == 4);
    CHECK(r.err.find("state.db") != std::string::npos);
    CHECK(slurp(db) == bytes);
  }
  write(db, "this is not a database at all, just text, but long enough to look like a header.......");
  Result r = sb.run({"status"});
  CHECK(r.code == 4);
  CHECK(r.err.find("is not a readable relengine state database") != std::string::npos);
}

TEST_CASE("no runs, unknown run: exit 4 with a next step") {
  Sandbox sb;
  Result r = sb.run({"status"});
  CHECK(r.code == 4);
  CHECK(r.err.find("relengine run PLAYBOOK") != std::string::npos);
  r = sb.run({"resume", "nope"});
  CHECK(r.code == 4);
  CHECK(sb.run({"runs", "--json"}).out == "[]\n");
}

TEST_CASE("secrets never reach the state directory or the console") {
  Sandbox sb;
  const std::string secret = "s3cr3t-T0ken-value";
  sb.playbook(std::string(kHead) + R"(inputs:
  token: {secret: true, env: TEST_TOKEN}
phases:
  - id: p
    steps:
      - id: leak
        idempotent: true
        env: {TOKEN: "${{ inputs.token }}"}
        run: |
          echo "the token is $TOKEN"
          echo "tok=$TOKEN" >> "$RELENGINE_OUTPUT"
)");
  Result r = sb.run({"-v", "run", sb.pb()}, "TEST_TOKEN=" + secret);
  CHECK(r.code == 0);
  CHECK(r.out.find(secret) == std::string::npos);
  CHECK(r.out.find("the token is ***") != std::string::npos);
  Result grep = shell("grep -rl " + quote(secret) + " " + quote(sb.state()) + " || true");
  CHECK(grep.out.empty());
  std::string id = sb.status()["id"];
  CHECK(sb.run({"logs", id, "leak"}).out.find("the token is ***") != std::string::npos);
  CHECK(sb.step("leak")["outputs"]["tok"] == "***");
}

TEST_CASE("a multi-line secret (a key) is masked in the log, the console, outputs and the state, however printed") {
  Sandbox sb;
  const std::string body = "c2VjcmV0LWtleS1ib2R5LWxpbmU";
  write(sb.dir / "key.pem", "-----BEGIN TEST KEY-----\n" + body + "\n-----END TEST KEY-----");
  sb.playbook(std::string(kHead) + R"(inputs:
  key: {secret: true, env: TEST_KEY}
phases:
  - id: p
    steps:
      - id: leak
        idempotent: true
        env: {KEY: "${{ inputs.key }}"}
        run: |
          echo "the key is $KEY"
          printf '%s\n' "$KEY" | sed 's/^/    /'
          printf '%s' "$KEY" | tr '\n' '\r'
          echo
          echo "key=$KEY" >> "$RELENGINE_OUTPUT"
)");
  Result r = sb.run({"-v", "run", sb.pb()}, "TEST_KEY=\"$(cat key.pem)\"");
  CHECK(r.code == 0);
  CAPTURE(r.out);
  CHECK(r.out.find(body) == std::string::npos);
  CHECK(r.out.find("BEGIN TEST KEY") == std::string::npos);
  Result grep = shell("grep -rl " + quote(body) + " " + quote(sb.state()) + " || true");
  CHECK(grep.out.empty());
  std::string id = sb.status()["id"];
  std::string log = sb.run({"logs", id, "leak"}).out;
  CAPTURE(log);
  CHECK(log.find(body) == std::string::npos);
  CHECK(log.find("TEST KEY") == std::string::npos);
  CHECK(log.find("the key is ***") != std::string::npos);
  CHECK(log.find("    ***\n    ***\n    ***\n") != std::string::npos);
  CHECK(sb.step("leak")["outputs"]["key"] == "***");
}

// The Builder streams a command's output through load::SecretMasker: masking line by line could
// not see a secret whose lines are each too short to be masked alone.
TEST_CASE("a secret spanning lines is masked as a whole, even when its lines are short") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(inputs:
  pin: {secret: true, env: TEST_PIN}
phases:
  - id: p
    steps:
      - id: leak
        idempotent: true
        env: {PIN: "${{ inputs.pin }}"}
        run: printf 'pin<%s>\n' "$PIN"
)");
  Result r = sb.run({"-v", "run", sb.pb()}, "TEST_PIN=\"$(printf 'q7\nz9\nk3')\"");
  CHECK(r.code == 0);
  CHECK(r.out.find("q7") == std::string::npos);
  std::string id = sb.status()["id"];
  std::string log = sb.run({"logs", id, "leak"}).out;
  CAPTURE(log);
  CHECK(log.find("pin<***>") != std::string::npos);
}

TEST_CASE("the run records the playbook's SHA-256 — a run recorded with the older hash resumes, validated in full") {
  E2E_SQLITE_ONLY();
  Sandbox sb;
  sb.playbook(std::string(kHead) +
              "phases:\n  - id: p\n    steps:\n"
              "      - id: a\n        idempotent: true\n        run: test -f fixed\n");
  Result r = sb.run({"run", sb.pb()});
  CHECK(r.code == 1);
  std::string db = (fs::path(sb.state()) / "state.db").string();
  auto recorded = [&] { return shell("sqlite3 " + quote(db) + " 'SELECT playbook_hash FROM runs'").out; };
  std::string sum = shell("sha256sum " + quote(sb.pb())).out.substr(0, 64);
  CHECK(recorded() == "sha256:" + sum + "\n");
  // What relengine before issue 13 recorded: two FNV-1a variants (32 hex digits), and its validator.
  CHECK(shell("sqlite3 " + quote(db) +
              " \"UPDATE runs SET playbook_hash = '0f1e2d3c4b5a69788796a5b4c3d2e1f0', "
              "validated_by = 'relengine 0.1.0 schema 00112233445566778899aabbccddeeff'\"")
            .code == 0);
  write(sb.dir / "fixed", "");
  r = sb.run({"resume"});
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(recorded() == "sha256:" + sum + "\n");  // recorded anew, in the new form
}

TEST_CASE("continue_on_error, cancelled downstream, independent branches finish — locks serialize") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: soft
        continue_on_error: true
        idempotent: true
        run: exit 1
      - id: after-soft
        idempotent: true
        run: touch after-soft
      - id: hard
        needs: []
        idempotent: true
        run: exit 1
      - id: after-hard
        idempotent: true
        run: touch after-hard
      - id: l1
        needs: []
        lock: repo
        idempotent: true
        run: echo s1 >> locktrace; sleep 0.3; echo e1 >> locktrace
      - id: l2
        needs: []
        lock: repo
        idempotent: true
        run: echo s2 >> locktrace; sleep 0.3; echo e2 >> locktrace
)");
  Result r = sb.run({"run", sb.pb(), "-j", "4"});
  CHECK(r.code == 1);
  CHECK(sb.exists("after-soft"));
  CHECK(!sb.exists("after-hard"));
  CHECK(sb.step("after-hard")["status"] == "cancelled");
  auto trace = lines(sb.read("locktrace"));
  REQUIRE(trace.size() == 4);
  CHECK(trace[0].substr(1) == trace[1].substr(1));  // s1 e1 or s2 e2: never interleaved
}

TEST_CASE("--dry-run renders everything and writes nothing — status and runs speak JSON") {
  Sandbox sb;
  sb.playbook(std::string(kHead) +
              "phases:\n  - id: p\n    steps:\n      - {id: a, run: 'touch made', idempotent: true}\n");
  Result r = sb.run({"run", sb.pb(), "--dry-run"});
  CHECK(r.code == 0);
  CHECK(r.out.find("$ touch made") != std::string::npos);
  CHECK(!sb.exists("made"));
  CHECK(!fs::exists(sb.state()));
  REQUIRE(sb.run({"run", sb.pb()}).code == 0);
  auto runs = json::parse(sb.run({"runs", "--json"}).out);
  REQUIRE(runs.size() == 1);
  for (const char* k : {"id", "playbook", "status", "started", "finished"}) CHECK(runs[0].contains(k));
  auto st = sb.status();
  for (const char* k : {"id", "playbook", "status", "inputs", "steps"}) CHECK(st.contains(k));
  for (const char* k :
       {"id", "phase", "status", "reason", "attempts", "started", "finished", "exit_code", "outputs", "message"})
    CHECK(st["steps"][0].contains(k));
  CHECK(st["steps"][0]["exit_code"] == 0);
}

TEST_CASE("on a terminal, gates and irreversible steps ask — 'y' goes on, anything else pauses") {
  Sandbox sb;
  sb.playbook(std::string(kHead) + R"(phases:
  - id: p
    steps:
      - id: gate
        manual: Is the moon full?
      - id: push
        irreversible: true
        idempotent: true
        run: touch pushed
)");
  // `script` gives relengine a pseudo-terminal; the answers come through it.
  auto on_tty = [&](const std::string& answers, const std::string& args) {
    return shell("cd " + quote(sb.dir.path().string()) + " && printf " + quote(answers) + " | script -qec " +
                 quote(std::string(RELENGINE_BIN) + " --no-color " + state_flag(sb.state()) + " " + args) +
                 " /dev/null");
  };
  Result r = on_tty("y\nn\n", "run " + sb.pb());
  CHECK(r.out.find("Is the moon full?") != std::string::npos);
  CHECK(r.out.find("Done? [y/N]") != std::string::npos);
  CHECK(r.out.find("Run it? [y/N]") != std::string::npos);
  CHECK(!sb.exists("pushed"));
  CHECK(sb.step("gate")["status"] == "succeeded");
  CHECK(sb.step("gate")["approval"]["note"] == "confirmed at the prompt");
  CHECK(sb.step("push")["status"] == "waiting");
  CHECK(sb.status()["status"] == "paused");
  r = on_tty("y\n", "resume");
  CHECK(sb.exists("pushed"));
  CHECK(sb.status()["status"] == "succeeded");
}

TEST_CASE("a state database locked by another writer gets exit 4 and says so") {
  E2E_SQLITE_ONLY();
  Sandbox sb;
  sb.playbook(std::string(kHead) + "phases:\n  - id: p\n    steps:\n      - {id: a, run: 'true', idempotent: true}\n");
  REQUIRE(sb.run({"run", sb.pb()}).code == 0);
  std::string db = (fs::path(sb.state()) / "state.db").string();
  // Another process holds the write lock from the moment `locked` exists until the test creates
  // `release` (at most two minutes, should the test stop in between): longer than relengine
  // waits (5 s), however slow the machine.
  write(sb.dir / "hold.sh",
        "touch locked; i=0; until [ -f release ] || [ $i -ge 2400 ]; do i=$((i+1)); sleep 0.05; done\n");
  write(sb.dir / "hold.sql",
        "BEGIN IMMEDIATE; INSERT INTO meta VALUES ('lock', 'held');\n.shell sh hold.sh\nROLLBACK;\n");
  shell("cd " + quote(sb.dir.path().string()) + " && { sqlite3 -bail " + quote(db) +
        " < hold.sql > hold.out 2>&1; touch hold.done; } </dev/null >/dev/null 2>&1 &");
  struct Release {
    fs::path file;
    ~Release() { write(file, ""); }
  } release{sb.dir / "release"};
  REQUIRE_MESSAGE(sb.wait_for_file("locked"), sb.read("hold.out"));
  Result r = sb.run({"resume", "--rerun", "a"});
  CHECK(r.code == 4);
  CHECK(r.err.find("locked by another process") != std::string::npos);
  // Readers do not wait for a writer: status, runs and logs open the state read-only.
  CHECK(sb.run({"status"}).code == 0);
  CHECK(sb.run({"runs"}).code == 0);
  write(sb.dir / "release", "");
  REQUIRE(sb.wait_for_file("hold.done"));
  CHECK(sb.read("hold.out").empty());  // the lock was held as intended: no error from sqlite3
  CHECK(sb.run({"status"}).code == 0);
  CHECK(shell("sqlite3 " + quote(db) + " \"SELECT count(*) FROM meta WHERE key = 'lock'\"").out == "0\n");
}
