// A run driven from two machines (two processes with distinct RELENGINE_HOST standing in for two
// hosts; e2e/ on SQLite, e2e-pg/ on PostgreSQL, where the hosts would really be apart): exactly
// one drives; the other is refused with the owner's host and pid; once the driver is killed
// (kill -9: a crashed host), its lease expires and the second takes over, finishes the run, and
// the journal records the takeover; every ledger line once.
#include <doctest/doctest.h>
#include <signal.h>

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

}  // namespace

TEST_CASE("two hosts, one run: one drives, the other waits for the lease to expire, takes over and finishes") {
  TempDir dir;
  const std::string state = (dir / "state").string();
  std::string pb = "version: 1\nname: team\nphases:\n  - id: p\n    steps:\n";
  const int steps = 12;
  for (int i = 0; i < steps; ++i) {
    std::string id = "s" + std::to_string(i);
    pb += "      - id: " + id + "\n        done_if: grep -qx " + id + " ledger\n";
    // s3 waits for `go` (created once host A has been killed while s3 ran): the kill lands mid-step.
    pb += std::string("        run: ") + (i == 3 ? "touch s3-started; while [ ! -e go ]; do sleep 0.05; done; " : "") +
          "echo " + id + " >> ledger\n";
  }
  write(dir / "p.yaml", pb);
  write(dir / "ledger", "");
  auto as_host = [&](const std::string& host, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", "RELENGINE_HOST=" + host, "RELENGINE_LEASE_TTL=10", RELENGINE_BIN,
                                     "--state-dir", state};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };

  Driver a;
  a.pid = start_child(as_host("host-a", {"run", "p.yaml"}), dir.path().string(), (dir / "a.log").string());
  REQUIRE(a.pid > 0);
  const int a_pid = a.pid;
  REQUIRE(eventually([&] { return fs::exists(dir / "s3-started"); }));

  // Host B, while A drives: refused, naming A.
  Driver b;
  b.pid = start_child(as_host("host-b", {"resume"}), dir.path().string(), (dir / "b1.log").string());
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
  int code = 4, tries = 0;
  while (code == 4 && tries++ < 60) {
    b.pid = start_child(as_host("host-b", {"resume"}), dir.path().string(), (dir / "b.log").string());
    code = wait_child(b.pid);
    b.pid = -1;
    if (code == 4) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  INFO(slurp(dir / "b.log"));
  REQUIRE(code == 0);
  MESSAGE("host B took over after " << tries << " tries");

  // Every step's line exactly once; s3, killed mid-step, was resumed by host B.
  std::map<std::string, int> seen;
  for (const auto& l : lines(slurp(dir / "ledger"))) ++seen[l];
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
    }
  CHECK(takeovers == 1);
}
