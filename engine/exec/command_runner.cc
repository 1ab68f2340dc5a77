#include "exec/command_runner.h"

#include <signal.h>

#include <boost/asio/signal_set.hpp>
#include <set>

namespace relengine::exec {

namespace {

class ProcessRunner;

class ProcessCommand : public CommandRunner::Command {
 public:
  ProcessCommand(ProcessRunner& runner, boost::asio::io_context& io, const CommandSpec& spec,
                 CommandRunner::OutputHandler on_output, CommandRunner::ExitHandler on_exit);
  ~ProcessCommand() override;
  void terminate() override { group_.terminate(); }
  void kill() override { group_.kill(); }
  int pid() const override { return static_cast<int>(group_.pid()); }
  void check_exit() { group_.check_exit(); }

 private:
  ProcessRunner& runner_;
  ProcessGroup group_;
};

// Starts commands as supervised process groups and reaps them on SIGCHLD: only the commands
// still running are looked at (a 10,000-step run must not scan every step for each exit).
class ProcessRunner : public CommandRunner {
 public:
  explicit ProcessRunner(boost::asio::io_context& io) : io_(io), sigchld_(io, SIGCHLD) { watch(); }

  std::unique_ptr<Command> start(const CommandSpec& spec, OutputHandler on_output, ExitHandler on_exit) override {
    return std::make_unique<ProcessCommand>(*this, io_, spec, std::move(on_output), std::move(on_exit));
  }
  void heartbeat() override {
    if (!live_.empty()) check_supervisor();
  }
  void shutdown() override {
    boost::system::error_code ignored;
    sigchld_.cancel(ignored);
  }

  void add(ProcessCommand* c) { live_.insert(c); }
  void remove(ProcessCommand* c) { live_.erase(c); }

 private:
  void watch() {
    sigchld_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      // check_exit may end a command, whose handler may drop it: iterate over a copy.
      std::vector<ProcessCommand*> live(live_.begin(), live_.end());
      for (auto* c : live)
        if (live_.count(c)) c->check_exit();
      watch();
    });
  }

  boost::asio::io_context& io_;
  boost::asio::signal_set sigchld_;
  std::set<ProcessCommand*> live_;
};

ProcessCommand::ProcessCommand(ProcessRunner& runner, boost::asio::io_context& io, const CommandSpec& spec,
                               CommandRunner::OutputHandler on_output, CommandRunner::ExitHandler on_exit)
    : runner_(runner),
      group_(io, spec, std::move(on_output), [this, on_exit = std::move(on_exit)](const ExitStatus& st) {
        runner_.remove(this);
        on_exit(st);
      }) {
  if (!group_.finished()) runner_.add(this);
}

ProcessCommand::~ProcessCommand() { runner_.remove(this); }

}  // namespace

std::unique_ptr<CommandRunner> make_process_runner(boost::asio::io_context& io) {
  return std::make_unique<ProcessRunner>(io);
}

}  // namespace relengine::exec
