// Crash soak: a playbook whose steps append to a ledger, guarded by done_if; the engine is
// killed with SIGKILL at random (seeded) moments and resumed each time until the run succeeds.
// Then every step's line is in the ledger exactly once, the database passes integrity_check,
// no step process is left, and the run's status is right. Short by default; longer with
// RELENGINE_SOAK_STEPS=200 RELENGINE_SOAK_KILLS=100 (see bench/README.md).
//
// Nothing here depends on how fast the machine is:
// - the first kill comes at a random moment, possibly before `run` has recorded the run; every
//   later start asks the state (`runs --json`) whether to `run` again or to `resume`;
// - the step `hold` blocks until the file `release` exists, which the test creates only after
//   it has killed the engine once while `hold` was running (it waits for hold's marker): so at
//   least one kill lands mid-step by construction, and the run cannot end before that kill;
// - the other kills come at random moments until there have been RELENGINE_SOAK_KILLS of them or
//   the engine finishes first (then it must have succeeded); how many landed is reported, not
//   asserted, since it depends on the machine's speed;
// - the engine is the test's own child: once killed it is reaped, so the next engine never meets
//   a previous one still exiting; waits have a deadline only against hanging.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "run.h"

using namespace e2e;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Should a check stop the test while an engine runs, that engine is killed and reaped before
// its directory is removed.
struct Reaper {
  int pid = -1;
  ~Reaper() {
    if (pid > 0 && wait_child(pid, 0) == -1) {
      ::kill(pid, SIGKILL);
      wait_child(pid);
    }
  }
};

}  // namespace

TEST_CASE("crash soak: SIGKILL at random moments, resume until done, every effect exactly once") {
  const int steps = env_int("RELENGINE_SOAK_STEPS", 40);
  const int kills = std::max(2, env_int("RELENGINE_SOAK_KILLS", 12));
  const unsigned seed = static_cast<unsigned>(env_int("RELENGINE_SOAK_SEED", 20261124));
  std::mt19937 rng(seed);
  TempDir dir;
  const std::string token = dir.path().filename().string();  // in every step's command line
  // A pattern that finds the token but not itself (pgrep's own shell has the pattern in its argv).
  const std::string pattern = token.substr(0, token.size() - 1) + "[" + token.back() + "]";
  // Steps sleep long enough on average that the run usually outlasts the kills (each after
  // 10-150 ms). A kill before the ledger line makes the step run again; after it, done_if must
  // skip it.
  const int spread_ms = std::min(999, 2 * std::max(40, 300 * kills / steps));
  const std::string nap = "sleep 0.$(printf %03d $((RANDOM % " + std::to_string(spread_ms / 2) + ")))";
  // `hold` comes first (it starts at once) and nothing waits for it; the run cannot succeed
  // before it has written its line, which it does only once `release` exists. If `release` never
  // comes (a broken test), it fails after a minute instead of hanging.
  std::string text =
      "version: 1\nname: soak\nphases:\n"
      "  - id: p-hold\n    steps:\n      - id: hold\n        done_if: grep -qx hold ledger\n"
      "        run: touch hold.started; i=0; until [ -f release ]; do i=$((i+1)); [ $i -le 1200 ] || exit 1; "
      "sleep 0.05; done; echo hold >> ledger # " +
      token + "\n";
  for (int p = 0; p < 4; ++p) {
    text += "  - id: p" + std::to_string(p) + "\n" +
            (p == 0   ? "    needs: []\n"
             : p == 2 ? "    needs: [p0]\n"
                      : "") +
            "    steps:\n";
    for (int s = p * steps / 4; s < (p + 1) * steps / 4; ++s) {
      std::string id = "s" + std::to_string(s);
      text += "      - id: " + id + "\n" + (s % 5 == 1 ? "        needs: []\n" : "") + "        done_if: grep -qx " +
              id +
              " ledger\n"
              "        run: " +
              nap + "; echo " + id + " >> ledger; " + nap + " # " + token + "\n";
    }
  }
  write(dir / "soak.yaml", text);
  write(dir / "ledger", "");
  const std::string state = (dir / "state").string();
  const std::string log = (dir / "engine.log").string();

  // What the state says: no run recorded yet (the engine was killed before it recorded one) or one.
  auto recorded_runs = [&] {
    Result r = relengine({"--state-dir", state, "runs", "--json"}, dir.path().string());
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    return nlohmann::json::parse(r.out).size();
  };
  Reaper current;
  auto start_engine = [&] {
    std::vector<std::string> argv = {RELENGINE_BIN, "-q", "--state-dir", state};
    if (recorded_runs() == 0)
      argv.insert(argv.end(), {"run", "soak.yaml"});
    else
      argv.push_back("resume");
    argv.insert(argv.end(), {"-j", "2"});
    return current.pid = start_child(argv, dir.path().string(), log);
  };
  auto no_step_process = [&] { return shell("pgrep -f " + quote(pattern) + " >/dev/null").code != 0; };
  int done_kills = 0, before_run = 0;
  // Kills the engine, reaps it, and checks that no step process outlives it.
  auto kill_engine = [&](int pid, const char* when) {
    ::kill(pid, SIGKILL);
    CHECK(wait_child(pid) == 128 + SIGKILL);
    ++done_kills;
    CHECK_MESSAGE(eventually(no_step_process), "a step process survived the engine's SIGKILL "
                                                   << when << ":\n"
                                                   << shell("pgrep -af " + quote(pattern)).out);
  };
  auto ended_by_itself = [&](int code) {
    CAPTURE(slurp(log));
    REQUIRE(code == 0);  // nothing in this playbook fails: an engine that ends on its own succeeded
  };
  auto pause = [&](int lo, int hi) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(lo, hi)(rng)));
  };

  // 1. A kill at a random moment of the first `run`, possibly before the run is recorded.
  int pid = start_engine();
  pause(0, 150);
  {
    CAPTURE(slurp(log));
    REQUIRE(wait_child(pid, 0) == -1);  // it cannot have finished: `hold` is waiting
  }
  kill_engine(pid, "in the first round");
  if (recorded_runs() == 0) ++before_run;

  // 2. A kill while `hold` runs, for certain.
  fs::remove(dir / "hold.started");  // the previous engine and its steps are gone
  pid = start_engine();
  bool holding = eventually([&] { return fs::exists(dir / "hold.started") || wait_child(pid, 0) != -1; }) &&
                 fs::exists(dir / "hold.started");
  {
    CAPTURE(slurp(log));
    REQUIRE_MESSAGE(holding, "the step hold did not start");
  }
  kill_engine(pid, "while hold was running");
  write(dir / "release", "");

  // 3. Kills at random moments until there have been `kills` or the run finished first.
  bool finished = false;
  for (int round = 0; done_kills < kills && !finished; ++round) {
    pid = start_engine();
    pause(10, 150);
    int code = wait_child(pid, 0);
    if (code != -1) {
      ended_by_itself(code);
      finished = true;
    } else {
      kill_engine(pid, ("in round " + std::to_string(round)).c_str());
    }
  }
  if (!finished) {
    pid = start_engine();
    ended_by_itself(wait_child(pid));
  }
  MESSAGE("killed the engine " << done_kills << " times (" << before_run
                               << " before the run was recorded, 1 while hold ran"
                               << std::string(finished ? ", then it finished first" : "") << ") over " << steps + 1
                               << " steps (seed " << seed << ")");

  CHECK(recorded_runs() == 1);  // never a second run
  std::map<std::string, int> seen;
  for (const auto& l : lines(slurp(dir / "ledger"))) ++seen[l];
  CHECK(seen.size() == static_cast<std::size_t>(steps + 1));
  CHECK(seen.count("hold") == 1);
  for (const auto& [id, n] : seen) {
    CAPTURE(id);
    CHECK(n == 1);
  }
  CHECK(no_step_process());
  if (!on_postgres()) {  // (the PostgreSQL server checks its own pages)
    Result check = shell("sqlite3 " + quote(state + "/state.db") + " 'PRAGMA integrity_check'");
    CHECK(check.out == "ok\n");
  }
  auto st = nlohmann::json::parse(relengine({"--state-dir", state, "status", "--json"}).out);
  CHECK(st["status"] == "succeeded");
  CHECK(st["steps"].size() == static_cast<std::size_t>(steps + 1));
  for (const auto& s : st["steps"]) CHECK((s["status"] == "succeeded" || s["status"] == "skipped"));
}
