#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <fstream>
#include <sstream>

#include "exec/process.h"
#include "temp_dir.h"

using namespace relengine::exec;

namespace {

struct Outcome {
  std::string output;
  ExitStatus status;
  bool done = false;
};

// Runs `argv` to its end. With `signal_on`, kills its group (or, `graceful`, terminates it) as
// soon as its output holds that text: the command says when it is ready (its trap installed, its
// children started) instead of the test assuming it is after some time.
Outcome run(const std::vector<std::string>& argv, const std::string& signal_on = "", bool graceful = false,
            const std::string& workdir = ".") {
  set_supervisor_binary(RELENGINE_BIN);
  boost::asio::io_context io;
  Outcome out;
  CommandSpec spec;
  spec.argv = argv;
  spec.workdir = workdir;
  spec.env = {{"PATH", "/usr/bin:/bin"}, {"GREETING", "hello"}};
  spec.grace_seconds = 60;  // between TERM and KILL: only against a command that ignores TERM
  boost::asio::signal_set chld(io, SIGCHLD);
  ProcessGroup* pg = nullptr;
  bool signalled = false;
  std::function<void()> watch = [&] {
    chld.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      pg->check_exit();
      watch();
    });
  };
  ProcessGroup group(
      io, spec,
      [&](std::string_view s) {
        out.output.append(s);
        if (!signal_on.empty() && !signalled && out.output.find(signal_on) != std::string::npos) {
          signalled = true;
          graceful ? pg->terminate() : pg->kill();
        }
      },
      [&](const ExitStatus& st) {
        out.status = st;
        out.done = true;
        chld.cancel();
        io.stop();
      });
  pg = &group;
  watch();
  io.run();
  return out;
}

}  // namespace

TEST_CASE("a command's output, environment and exit code come back") {
  auto o = run({"sh", "-c", "echo $GREETING; echo oops >&2; exit 3"});
  REQUIRE(o.done);
  CHECK(o.status.code == 3);
  CHECK(o.output == "hello\noops\n");
}

TEST_CASE("kill() ends the whole group at once — terminate() asks first") {
  auto o = run({"sh", "-c", "sleep 30 & echo ready; sleep 30"}, "ready", false);
  REQUIRE(o.done);
  CHECK(o.status.code == 128 + SIGKILL);
  o = run({"sh", "-c", "trap 'echo got TERM; exit 7' TERM; sleep 30 & echo ready; wait"}, "ready", true);
  REQUIRE(o.done);
  CHECK(o.status.code == 7);
  CHECK(o.output.find("got TERM") != std::string::npos);
}

TEST_CASE("a program that does not exist fails with 127 and says so") {
  auto o = run({"/no/such/program"});
  REQUIRE(o.done);
  CHECK(o.status.code == 127);
  CHECK(o.output.find("cannot run /no/such/program") != std::string::npos);
}

TEST_CASE("a command runs in its workdir or not at all") {
  TempDirectory d;
  std::string here = std::filesystem::canonical(d.path).string();
  auto o = run({"sh", "-c", "pwd"}, "", false, here);
  REQUIRE(o.done);
  CHECK(o.status.spawned);
  CHECK(o.output == here + "\n");
  // A workdir that cannot be entered must not mean the engine's directory (Boost 1.74's
  // start_dir ignores a failing chdir): the command does not start, and the reason is given.
  std::ofstream(d / "file") << "not a directory\n";
  for (const auto& [workdir, reason] : std::vector<std::pair<std::string, std::string>>{
           {d / "gone", "No such file or directory"}, {d / "file", "Not a directory"}}) {
    CAPTURE(workdir);
    o = run({"sh", "-c", "echo \"$PWD\" >> " + d / "ran"}, "", false, workdir);
    REQUIRE(o.done);
    CHECK_FALSE(o.status.spawned);
    CHECK(o.status.code == 127);
    CHECK(o.status.message == "cannot enter workdir " + workdir + ": " + reason);
    CHECK(o.output.empty());
    CHECK_FALSE(std::filesystem::exists(d / "ran"));
  }
}

TEST_CASE("a command starts clean: no engine descriptor, no blocked or ignored signal") {
  // The engine ignores SIGPIPE and blocks every signal around vfork; a descriptor it opened
  // without close-on-exec must not reach the command either.
  signal(SIGPIPE, SIG_IGN);
  int leaked = ::open("/dev/null", O_RDONLY);
  REQUIRE(leaked > 2);
  auto o = run({"sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status; ls /proc/self/fd"});
  ::close(leaked);
  signal(SIGPIPE, SIG_DFL);
  REQUIRE(o.done);
  CHECK(o.status.code == 0);
  CHECK(o.output.find("SigBlk:\t0000000000000000") != std::string::npos);
  CHECK(o.output.find("SigIgn:\t0000000000000000") != std::string::npos);
  // ls sees 0, 1, 2 and the directory it is reading (3), nothing more.
  std::istringstream lines(o.output.substr(o.output.find("SigIgn")));
  std::string line;
  std::getline(lines, line);
  std::vector<int> fds;
  while (std::getline(lines, line)) fds.push_back(std::atoi(line.c_str()));
  CHECK(fds == std::vector<int>{0, 1, 2, 3});
}

namespace {

bool running(pid_t pid) {  // alive and not a zombie waiting for init
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

}  // namespace

TEST_CASE("background processes do not outlive their command") {
  auto o = run({"sh", "-c", "sleep 30 & echo $!"});
  REQUIRE(o.done);
  CHECK(o.status.code == 0);
  pid_t bg = std::atoi(o.output.c_str());
  REQUIRE(bg > 0);
  // Killed when the command ended; it may take the kernel a moment to finish it. A minute only
  // guards against hanging.
  for (int i = 0; i < 6000 && running(bg); ++i) ::usleep(10000);
  CHECK_FALSE(running(bg));
}

namespace {

// A process group of its own running `sleep 30`, not a child of the supervisor under test.
pid_t sleeping_group() {
  pid_t p = ::fork();
  if (p == 0) {
    ::setpgid(0, 0);
    ::execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(p, p);
  return p;
}

bool gone(pid_t p) {  // reaped within a minute (a guard against hanging, not a span that must suffice)
  for (int i = 0; i < 6000; ++i) {
    int st;
    if (::waitpid(p, &st, WNOHANG) == p) return true;
    ::usleep(10000);
  }
  return false;
}

}  // namespace

TEST_CASE("the supervisor kills the registered groups, and only those, when the engine's pipe closes") {
  for (const char* bin : {SUPERVISE_BIN, RELENGINE_BIN}) {
    CAPTURE(bin);
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);  // as the engine's: the groups must not hold it
    pid_t sup = ::fork();
    if (sup == 0) {
      ::dup2(p[0], 0);
      ::close(p[0]);
      ::close(p[1]);
      if (std::string(bin) == RELENGINE_BIN)
        ::execl(bin, bin, "__supervise", "--groups", static_cast<char*>(nullptr));
      else
        ::execl(bin, bin, "--groups", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(p[0]);
    pid_t kept = sleeping_group(), killed = sleeping_group(), also_killed = sleeping_group();
    int32_t msgs[] = {kept, killed, -kept, also_killed};
    REQUIRE(::write(p[1], msgs, sizeof msgs) == static_cast<ssize_t>(sizeof msgs));
    ::usleep(50000);
    int st;
    CHECK(::waitpid(killed, &st, WNOHANG) == 0);  // nothing happens while the engine is there
    ::close(p[1]);                                // the engine is gone
    CHECK(gone(killed));
    CHECK(gone(also_killed));
    CHECK(::waitpid(sup, &st, 0) == sup);
    CHECK(::waitpid(kept, &st, WNOHANG) == 0);  // unregistered: left alone
    ::kill(kept, SIGKILL);
    ::waitpid(kept, &st, 0);
  }
}
