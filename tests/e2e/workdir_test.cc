// End-to-end tests of a step's workdir on the real binary: a step runs in its workdir or not at
// all. A workdir that cannot be entered (no permission, or removed after the engine's check)
// fails the step with the reason; its command never runs elsewhere (Boost 1.74's start_dir
// ignores a failing chdir: the command used to run in the engine's directory and could succeed).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

// How this test runs a command as a user without privileges: `prefix` before the command
// (empty when the test already is such a user), or `why_not` when it cannot.
struct Unprivileged {
  std::string prefix;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string why_not;
};

Unprivileged unprivileged() {
  Unprivileged u;
  if (::geteuid() != 0) {
    u.uid = ::geteuid();
    u.gid = ::getegid();
    return u;
  }
  u.uid = u.gid = 65534;  // nobody
  u.prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups";
  Result probe = shell(u.prefix + " true");
  if (probe.code != 0) u.why_not = "`" + u.prefix + " true` failed (" + probe.err + ")";
  return u;
}

// The paths under `root` named `name` (the marker a step would have created in its cwd).
std::vector<std::string> find_all(const fs::path& root, const std::string& name) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->path().filename() == name) found.push_back(it->path().string());
  return found;
}

json step_of(const std::string& status_json, const std::string& id) {
  json st = json::parse(status_json, nullptr, false);
  if (st.is_object())
    for (const auto& s : st["steps"])
      if (s["id"] == id) return s;
  return json::object();
}

}  // namespace

TEST_CASE("a workdir the user cannot enter fails the step with the reason — the command runs nowhere") {
  E2E_SQLITE_ONLY();
  Unprivileged user = unprivileged();
  if (!user.why_not.empty()) {
    MESSAGE("NOT TESTED: a workdir of mode 000 needs an unprivileged user, and none can be used: " << user.why_not);
    return;
  }
  TempDir tmp;
  fs::path wd = tmp / "wd";
  fs::create_directory(wd);
  // Everything the engine needs belongs to the user; the engine's own directory (tmp) is writable
  // by it, so a command run there by mistake would leave its marker.
  if (::geteuid() == 0) {
    REQUIRE(::chown(tmp.path().c_str(), user.uid, user.gid) == 0);
    REQUIRE(::chown(wd.c_str(), user.uid, user.gid) == 0);
  }
  write(tmp / "p.yaml",
        "version: 1\nname: t\nphases:\n  - id: p\n    steps:\n      - id: use\n"
        "        idempotent: true\n        workdir: " +
            wd.string() +
            "\n        run: |\n"
            "          echo \"$PWD\" >> " +
            (tmp / "ran").string() + "\n          touch marker\n");
  ::chmod((tmp / "p.yaml").c_str(), 0644);
  REQUIRE(::chmod(wd.c_str(), 0) == 0);
  struct Restore {  // so that the directory can be searched and removed
    fs::path dir;
    ~Restore() { ::chmod(dir.c_str(), 0700); }
  } restore{wd};
  Result probe = shell(user.prefix + " sh -c " + quote("cd " + quote(wd.string())));
  if (probe.code == 0) {
    MESSAGE("NOT TESTED: the unprivileged user can enter a directory of mode 000 (does it have CAP_DAC_OVERRIDE?)");
    return;
  }
  auto as_user = [&](const std::string& args) {
    return shell("cd " + quote(tmp.path().string()) + " && " + user.prefix + " " + quote(RELENGINE_BIN) +
                 " --state-dir " + quote((tmp / "state").string()) + " " + args);
  };
  Result r = as_user("run p.yaml");
  CHECK_MESSAGE(r.code == 1, r.out << r.err);
  std::string status = as_user("status --json").out;
  json use = step_of(status, "use");
  CHECK(use.value("status", "") == "failed");
  CHECK(use.value("message", "") == "cannot enter workdir " + wd.string() + ": Permission denied");
  json run = json::parse(status, nullptr, false);
  std::string id = run.is_object() ? run.value("id", "") : "";
  CHECK(as_user("logs " + id + " use").out.find("cannot enter workdir " + wd.string() + ": Permission denied") !=
        std::string::npos);
  ::chmod(wd.c_str(), 0700);
  CHECK_FALSE(fs::exists(tmp / "ran"));
  CHECK(find_all(tmp.path(), "marker").empty());
}

TEST_CASE("a workdir removed after the engine's check, before the command starts, fails the step — it runs nowhere") {
  E2E_SQLITE_ONLY();
  // The engine checks that the workdir exists, then commits the step's `running` record, then
  // starts the command. The test holds the state database's write lock from before that check
  // until the check has passed (the step's log says `==> run`), and removes the workdir then:
  // the removal lands between the check and the start, every time, with no span of time assumed.
  // (The engine waits 5 s for a lock; the removal takes milliseconds.)
  TempDir tmp;
  fs::path wd = tmp / "wd", state = tmp / "state";
  fs::create_directory(wd);
  write(tmp / "p.yaml",
        "version: 1\nname: t\nphases:\n  - id: p\n    steps:\n"
        "      - id: prep\n        idempotent: true\n        run: |\n"
        "          touch ready\n"
        "          i=0; until [ -f go ] || [ $i -ge 6000 ]; do i=$((i+1)); sleep 0.01; done\n"
        "      - id: use\n        idempotent: true\n        workdir: " +
            wd.string() + "\n        run: |\n          echo \"$PWD\" >> " + (tmp / "ran").string() +
            "\n          touch marker\n");
  int engine = start_child({RELENGINE_BIN, "--state-dir", state.string(), "run", "p.yaml"}, tmp.path().string(),
                           (tmp / "engine.out").string());
  struct Reap {
    int pid;
    ~Reap() {
      if (wait_child(pid, 0) == -1) ::kill(pid, SIGKILL), wait_child(pid);
    }
  } reap{engine};
  REQUIRE(eventually([&] { return fs::exists(tmp / "ready"); }));
  write(tmp / "hold.sh", "touch locked\ni=0\nuntil grep -qs '\"step\":\"use\"' " + quote(state.string()) +
                             "/logs/*.log || [ $i -ge 6000 ]; do i=$((i+1)); sleep 0.01; done\n"
                             "rm -rf " +
                             quote(wd.string()) + "\n");
  write(tmp / "hold.sql", "BEGIN IMMEDIATE;\n.shell sh hold.sh\nROLLBACK;\n");
  shell("cd " + quote(tmp.path().string()) + " && { sqlite3 -bail " + quote((state / "state.db").string()) +
        " < hold.sql > hold.out 2>&1; touch hold.done; } </dev/null >/dev/null 2>&1 &");
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(tmp / "locked"); }), slurp(tmp / "hold.out"));
  write(tmp / "go", "");
  REQUIRE(eventually([&] { return fs::exists(tmp / "hold.done"); }));
  CHECK(slurp(tmp / "hold.out").empty());  // the lock was held as intended
  CHECK_FALSE(fs::exists(wd));
  int code = wait_child(engine);
  CHECK_MESSAGE(code == 1, slurp(tmp / "engine.out"));
  json use = step_of(relengine({"--state-dir", state.string(), "status", "--json"}).out, "use");
  CHECK(use.value("status", "") == "failed");
  CHECK(use.value("message", "") == "cannot enter workdir " + wd.string() + ": No such file or directory");
  CHECK_FALSE(fs::exists(tmp / "ran"));
  CHECK(find_all(tmp.path(), "marker").empty());
}
