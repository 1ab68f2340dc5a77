// How the Builder starts commands (ninja's CommandRunner): one interface, so that the executor's
// decisions can be driven without processes in unit tests. The real runner starts each command in
// its own supervised process group (exec/process); tests use a fake. Used by exec/builder.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string_view>

#include "exec/process.h"

namespace relengine::exec {

class CommandRunner {
 public:
  // A command that was started; dropping it kills what is left of its process group.
  class Command {
   public:
    virtual ~Command() = default;
    virtual void terminate() = 0;          // TERM, then KILL after the spec's grace period
    virtual void kill() = 0;               // KILL now (a timeout)
    virtual int pid() const { return 0; }  // its process (0: none, or not a process)
  };
  using OutputHandler = std::function<void(std::string_view)>;
  using ExitHandler = std::function<void(const ExitStatus&)>;

  virtual ~CommandRunner() = default;
  // Starts `spec`; `on_output` gets its output as it comes, `on_exit` is called once, later,
  // from the event loop (never from within start()).
  virtual std::unique_ptr<Command> start(const CommandSpec& spec, OutputHandler on_output, ExitHandler on_exit) = 0;
  // Called every few seconds while commands run (the real runner replaces a dead supervisor).
  virtual void heartbeat() {}
  // Stops waiting for events so that the event loop can end.
  virtual void shutdown() {}
};

// The real runner, on `io`: it reaps its children when SIGCHLD arrives.
std::unique_ptr<CommandRunner> make_process_runner(boost::asio::io_context& io);

}  // namespace relengine::exec
