// End to end, the promises a release manager relies on: an approval approves one thing (edited
// or re-rendered, it is void and the step asks again); a dry run writes nothing, anywhere, and
// never takes another driver's steps for interrupted; the prompt at a gate does not stop the
// lease's heartbeat; plan, list and graph agree on what is irreversible.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>

#include "state_run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

struct Run : StateRun {
  std::string sql(const std::string& query) const {
    Result r = shell("sqlite3 -readonly " + quote(state + "/state.db") + " " + quote(query));
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  // Every file of the state directory that relengine itself writes, byte for byte (SQLite's
  // shared-memory index, state.db-shm, is SQLite's and may change under any reader).
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(state)) {
      std::string name = fs::relative(e.path(), state).string();
      if (name == "state.db-shm") {
        files[name] = "(present)";
        continue;
      }
      files[name] = e.is_regular_file() ? slurp(e.path()) : "(directory)";
    }
    return files;
  }
};

const char* kPush = R"YAML(version: 1
name: approvals
inputs:
  version: {default: v1}
phases:
  - id: p
    steps:
      - id: gate
        manual: Ready to release ${{ inputs.version }}?
      - id: push
        irreversible: true
        idempotent: true
        run: echo COMMAND >> pushed
)YAML";

std::string push_playbook(const std::string& command) {
  std::string t = kPush;
  t.replace(t.find("COMMAND"), 7, command);
  return t;
}

}  // namespace

TEST_CASE("an approval approves one thing: an edited command voids it, and the step asks again") {
  Run run;
  write(run.dir / "p.yaml", push_playbook("one"));
  Result r = run({"run", "p.yaml", "--auto-approve"});  // the gate passes; the push waits (no --yes)
  REQUIRE(r.code == 3);
  std::string id = run.status()["id"];
  REQUIRE(run.step("push")["status"] == "waiting");
  REQUIRE(run({"approve", id, "push", "--note", "checked 'one'"}).code == 0);

  // The command is edited after the approval: the approval does not cover it.
  write(run.dir / "p.yaml", push_playbook("two"));
  r = run({"resume"});
  CAPTURE(r.out);
  CHECK(r.code == 3);
  CHECK(r.out.find("approval of push by") != std::string::npos);
  CHECK(r.out.find("voided: its command changed since it was approved") != std::string::npos);
  CHECK(!fs::exists(run.dir / "pushed"));
  CHECK(run.step("push")["status"] == "waiting");
  CHECK(!run.step("push").contains("approval"));

  // Approved again, as it is now: it runs.
  REQUIRE(run({"approve", id, "push"}).code == 0);
  r = run({"resume"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(slurp(run.dir / "pushed") == "two\n");

  // Once it has run, an edit makes it run again (changed since it ran): it asks again first.
  write(run.dir / "p.yaml", push_playbook("three"));
  r = run({"resume"});
  CAPTURE(r.out);
  CHECK(r.code == 3);
  CHECK(r.out.find("run  push (changed since it ran)") != std::string::npos);
  CHECK(r.out.find("approval of push by") != std::string::npos);
  CHECK(slurp(run.dir / "pushed") == "two\n");
}

TEST_CASE("an approval is void when --set changes a value the step renders") {
  Run run;
  write(run.dir / "p.yaml", push_playbook("one"));
  REQUIRE(run({"run", "p.yaml", "--yes"}).code == 3);  // the gate waits
  std::string id = run.status()["id"];
  REQUIRE(run({"approve", id, "gate", "--note", "v1 is ready"}).code == 0);
  Result r = run({"resume", "--yes", "--set", "version=v2"});
  CAPTURE(r.out);
  CHECK(r.code == 3);
  CHECK(r.out.find("approval of gate by") != std::string::npos);
  CHECK(run.step("gate")["status"] == "waiting");
  CHECK(run.step("gate")["message"] == "Ready to release v2?");
  CHECK(!fs::exists(run.dir / "pushed"));
  REQUIRE(run({"approve", id, "gate"}).code == 0);
  r = run({"resume", "--yes"});
  CHECK(r.code == 0);
  CHECK(slurp(run.dir / "pushed") == "one\n");
}

TEST_CASE("resume --dry-run writes nothing, anywhere, and never records another driver's step as interrupted") {
  E2E_SQLITE_ONLY();
  Run run;
  write(run.dir / "p.yaml", R"YAML(version: 1
name: dry
phases:
  - id: p
    steps:
      - id: hold
        idempotent: true
        run: |
          echo $$ > hold.pid
          while [ ! -e go ]; do sleep 0.01; done
      - id: after
        idempotent: true
        run: touch after
)YAML");
  std::string log = (run.dir / "engine.log").string();
  int engine = start_child({RELENGINE_BIN, "--state-dir", run.state, "run", "p.yaml"}, run.dir.path().string(), log);
  std::string pid = wait_for_line(run.dir / "hold.pid");
  REQUIRE(!pid.empty());

  // Another live driver runs the step: the dry run says so, and writes nothing.
  auto before = run.snapshot();
  Result r = run({"resume", "--dry-run"});
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("run  hold (running (driven by another process))") != std::string::npos);
  CHECK(run.sql("SELECT status FROM steps WHERE id = 'hold'") == "running");
  CHECK(run.sql("SELECT count(*) FROM events WHERE transition = 'interrupted'") == "0");

  // The driver dies (kill -9): now the step was interrupted, which the dry run says, and still
  // state.db and its WAL are byte for byte what they were, and no file is created.
  ::kill(engine, SIGKILL);
  REQUIRE(wait_child(engine) == 128 + SIGKILL);
  REQUIRE(eventually([&] { return !alive(std::stoi(pid)); }));
  before = run.snapshot();
  r = run({"resume", "--dry-run"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(r.out.find("run  hold (interrupted (its driver died))") != std::string::npos);
  CHECK(r.out.find("then 1 step not started yet") != std::string::npos);
  auto after = run.snapshot();
  CHECK(after.size() == before.size());
  for (const auto& [name, bytes] : before) {
    CAPTURE(name);
    REQUIRE(after.count(name));
    CHECK(after[name] == bytes);
  }
  CHECK(run.sql("SELECT lease_pid FROM runs") == std::to_string(engine));  // the lease was not taken

  // A real resume records the interruption, then runs the rest.
  write(run.dir / "go", "");
  r = run({"resume"});
  CAPTURE(r.out);
  CHECK(r.code == 0);
  CHECK(run.sql("SELECT count(*) FROM events WHERE transition = 'interrupted' AND step = 'hold'") == "1");
  CHECK(fs::exists(run.dir / "after"));
}

TEST_CASE("resume --dry-run of a state written by an older relengine refuses to migrate it, and says what to do") {
  E2E_SQLITE_ONLY();
  Run run;
  write(run.dir / "p.yaml",
        "version: 1\nname: old\nphases:\n  - id: p\n    steps:\n      - {id: a, run: 'false', idempotent: true}\n");
  REQUIRE(run({"run", "p.yaml"}).code == 1);
  REQUIRE(
      shell("sqlite3 " + quote(run.state + "/state.db") + " \"UPDATE meta SET value='3' WHERE key='schema_version'\"")
          .code == 0);
  auto before = run.snapshot();
  Result r = run({"resume", "--dry-run"});
  CHECK(r.code == 4);
  CHECK(r.err.find("a dry run does not migrate it") != std::string::npos);
  CHECK(run.snapshot() == before);
}

TEST_CASE("the terminal prompt at a gate does not stop the lease's heartbeat") {
  E2E_SQLITE_ONLY();
  Run run;
  write(run.dir / "p.yaml",
        "version: 1\nname: prompt\nphases:\n  - id: p\n    steps:\n      - id: gate\n"
        "        manual: Is the moon full?\n      - {id: after, run: touch after, idempotent: true}\n");
  // relengine on a pseudo-terminal (`script`), its answers from a fifo the test writes to later.
  std::string fifo = (run.dir / "answers").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string out = (run.dir / "tty.out").string();
  Result started = shell("cd " + quote(run.dir.path().string()) + " && { script -qec " +
                         quote(std::string(RELENGINE_BIN) + " --no-color --state-dir " + run.state + " run p.yaml") +
                         " /dev/null < " + quote(fifo) + " > " + quote(out) + " 2>&1 & }");
  REQUIRE(started.code == 0);
  int answers = ::open(fifo.c_str(), O_WRONLY);  // the other end is script's stdin
  REQUIRE(answers >= 0);
  REQUIRE(eventually([&] { return slurp(out).find("Done? [y/N]") != std::string::npos; }));
  std::string beat = run.sql("SELECT lease_heartbeat FROM runs");
  REQUIRE(!beat.empty());
  // The heartbeat (every 5 s) goes on while the question waits for its answer.
  CHECK(eventually([&] {
    std::string now = run.sql("SELECT lease_heartbeat FROM runs");
    return !now.empty() && std::stoll(now) > std::stoll(beat);
  }));
  REQUIRE(::write(answers, "y\n", 2) == 2);
  ::close(answers);
  CHECK(eventually([&] { return fs::exists(run.dir / "after"); }));
  CHECK(eventually([&] { return run.status()["status"] == "succeeded"; }));
}

TEST_CASE("plan, list and graph agree on what is irreversible: a git.tag whose remote renders empty pushes nothing") {
  TempDir dir;
  write(dir / "p.yaml", R"YAML(version: 1
name: agree
inputs:
  remote: {default: ""}
phases:
  - id: p
    steps:
      - id: tag
        uses: git.tag
        with: {tag: v1, remote: "${{ inputs.remote }}"}
)YAML");
  std::string pb = (dir / "p.yaml").string();
  for (std::string remote : {"", "origin"}) {
    CAPTURE(remote);
    bool pushes = !remote.empty();
    Result plan = relengine({"plan", pb, "--json", "--set", "remote=" + remote});
    REQUIRE(plan.code == 0);
    CHECK(json::parse(plan.out)["steps"][0]["irreversible"] == pushes);
  }
  // Without inputs, list and graph use the default (empty): no push, as plan says.
  CHECK(relengine({"list", pb}).out.find("[irreversible]") == std::string::npos);
  CHECK(relengine({"graph", pb, "--format", "dot"}).out.find("[irreversible]") == std::string::npos);
  std::string text = slurp(dir / "p.yaml");
  const std::string empty_default = "default: \"\"";
  text.replace(text.find(empty_default), empty_default.size(), "default: origin");
  write(dir / "q.yaml", text);
  std::string q = (dir / "q.yaml").string();
  CHECK(relengine({"list", q}).out.find("[irreversible]") != std::string::npos);
  CHECK(relengine({"graph", q, "--format", "dot"}).out.find("[irreversible]") != std::string::npos);
  CHECK(json::parse(relengine({"plan", q, "--json"}).out)["steps"][0]["irreversible"] == true);
}
