// Crash soak: a playbook whose steps append to a ledger, guarded by done_if; the engine is
// killed with SIGKILL at random (seeded) moments and resumed each time until the run succeeds.
// Then every step's line is in the ledger exactly once, the database passes integrity_check,
// no step process is left, and the run's status is right. Short by default; longer with
// RELENGINE_SOAK_STEPS=200 RELENGINE_SOAK_KILLS=100 (see bench/README.md).
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


}  // namespace

TEST_CASE("crash soak: SIGKILL at random moments, resume until done, every effect exactly once") {
  const int steps = env_int("RELENGINE_SOAK_STEPS", 40);
  const int kills = env_int("RELENGINE_SOAK_KILLS", 12);
  const unsigned seed = static_cast<unsigned>(env_int("RELENGINE_SOAK_SEED", 20261124));
  std::mt19937 rng(seed);
  TempDir dir;
  const std::string token = dir.path().filename().string();  // in every step's command line
  // A pattern that finds the token but not itself (pgrep's own shell has the pattern in its argv).
  const std::string pattern = token.substr(0, token.size() - 1) + "[" + token.back() + "]";
  // Steps sleep long enough on average that the run outlasts the kills (each after 10-150 ms):
  // the engine must be killed `kills` times, not finish first.
  // A kill before the ledger line makes the step run again; after it, done_if must skip it.
  const int spread_ms = std::min(999, 2 * std::max(40, 300 * kills / steps));
  const std::string nap = "sleep 0.$(printf %03d $((RANDOM % " + std::to_string(spread_ms / 2) + ")))";
  std::string text = "version: 1\nname: soak\nphases:\n";
  for (int p = 0; p < 4; ++p) {
    text += "  - id: p" + std::to_string(p) + "\n" + (p == 2 ? "    needs: [p0]\n" : "") + "    steps:\n";
    for (int s = p * steps / 4; s < (p + 1) * steps / 4; ++s) {
      std::string id = "s" + std::to_string(s);
      text += "      - id: " + id + "\n" + (s % 5 == 1 ? "        needs: []\n" : "") +
              "        done_if: grep -qx " + id + " ledger\n"
              "        run: " + nap + "; echo " + id + " >> ledger; " + nap + " # " + token + "\n";
    }
  }
  write(dir / "soak.yaml", text);
  write(dir / "ledger", "");
  const std::string state = (dir / "state").string();
  auto engine_cmd = [&](const std::string& verb) {
    return "cd " + quote(dir.path().string()) + " && " + quote(RELENGINE_BIN) + " -q --state-dir " + quote(state) + " " +
           verb + " -j 2 >>" + quote((dir / "engine.log").string()) + " 2>&1 & echo $!";
  };
  int done_kills = 0;
  bool started = false;
  for (int round = 0; done_kills < kills && round < 2 * kills; ++round) {
    int pid = std::stoi(shell(engine_cmd(started ? "resume" : "run soak.yaml")).out);
    started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(10, 150)(rng)));
    if (!alive(pid)) continue;  // it finished before the kill
    ::kill(pid, SIGKILL);
    ++done_kills;
    // No step process may outlive the engine.
    bool orphan = true;
    for (int i = 0; i < 60 && orphan; ++i) {
      orphan = shell("pgrep -f " + quote(pattern) + " >/dev/null").code == 0;
      if (orphan) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK_MESSAGE(!orphan, "a step process survived the engine's SIGKILL in round " << round << ":\n"
                               << shell("pgrep -af " + quote(pattern)).out);
  }
  Result r;
  for (int i = 0; i < 5; ++i) {
    r = relengine({"-q", "--state-dir", state, "resume"}, dir.path().string());
    if (r.code == 0) break;
  }
  CAPTURE(r.out);
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  MESSAGE("killed the engine " << done_kills << " times over " << steps << " steps (seed " << seed << ")");
  CHECK(done_kills == kills);
  std::map<std::string, int> seen;
  for (const auto& l : lines(slurp(dir / "ledger"))) ++seen[l];
  CHECK(seen.size() == static_cast<std::size_t>(steps));
  for (const auto& [id, n] : seen) {
    CAPTURE(id);
    CHECK(n == 1);
  }
  Result check = shell("sqlite3 " + quote(state + "/state.db") + " 'PRAGMA integrity_check'");
  CHECK(check.out == "ok\n");
  auto st = nlohmann::json::parse(relengine({"--state-dir", state, "status", "--json"}).out);
  CHECK(st["status"] == "succeeded");
  CHECK(st["steps"].size() == static_cast<std::size_t>(steps));
  for (const auto& s : st["steps"]) CHECK((s["status"] == "succeeded" || s["status"] == "skipped"));
}
