#include <doctest/doctest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "exec/process.h"

using namespace relengine::exec;

namespace {

struct Outcome {
  std::string output;
  ExitStatus status;
  bool done = false;
};

Outcome run(const std::vector<std::string>& argv, double kill_after = 0, bool graceful = false) {
  set_supervisor_binary(RELENGINE_BIN);
  boost::asio::io_context io;
  Outcome out;
  CommandSpec spec;
  spec.argv = argv;
  spec.workdir = ".";
  spec.env = {{"PATH", "/usr/bin:/bin"}, {"GREETING", "hello"}};
  spec.grace_seconds = 1;
  boost::asio::signal_set chld(io, SIGCHLD);
  ProcessGroup* pg = nullptr;
  std::function<void()> watch = [&] {
    chld.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      pg->check_exit();
      watch();
    });
  };
  ProcessGroup group(io, spec, [&](std::string_view s) { out.output.append(s); },
                     [&](const ExitStatus& st) {
                       out.status = st;
                       out.done = true;
                       chld.cancel();
                       io.stop();
                     });
  pg = &group;
  watch();
  boost::asio::steady_timer timer(io);
  if (kill_after > 0) {
    timer.expires_after(std::chrono::milliseconds(static_cast<int>(kill_after * 1000)));
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) graceful ? group.terminate() : group.kill();
    });
  }
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

TEST_CASE("kill() ends the whole group at once; terminate() asks first") {
  auto o = run({"sh", "-c", "sleep 30 & sleep 30"}, 0.3, false);
  REQUIRE(o.done);
  CHECK(o.status.code == 128 + SIGKILL);
  o = run({"sh", "-c", "trap 'echo got TERM; exit 7' TERM; sleep 30 & wait"}, 0.3, true);
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
