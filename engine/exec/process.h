// One child command in its own process group. The engine kills the whole group when the command
// ends (background processes do not outlive their step) and when asked (terminate: TERM then
// KILL after a grace period; kill: KILL now); one supervising process per engine
// (`relengine-supervise`, see supervisor.cc) kills it when the engine dies, even by SIGKILL.
// Output arrives through one pipe on the engine's io_context. Used by exec/command_runner for every
// shell command and built-in action.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace relengine::exec {

struct CommandSpec {
  std::vector<std::string> argv;           // program and arguments (no shell unless argv says so)
  std::string workdir;                     // "" for the engine's; one it cannot enter: not started
  std::map<std::string, std::string> env;  // the complete environment of the command
  double grace_seconds = 5;                // between TERM and KILL on terminate()
};

struct ExitStatus {
  int code = 0;         // exit code, or 128 + signal when the command was killed
  bool spawned = true;  // false: could not start (message says why, e.g. `cannot enter workdir /x: Permission denied`)
  std::string message;
};

class ProcessGroup {
 public:
  using OutputHandler = std::function<void(std::string_view)>;
  using ExitHandler = std::function<void(const ExitStatus&)>;

  // Starts the command; `on_exit` is called once, after the output has been drained.
  ProcessGroup(boost::asio::io_context& io, const CommandSpec& spec, OutputHandler on_output, ExitHandler on_exit);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  void terminate();  // graceful: TERM to the group, KILL after the grace period
  void kill();       // KILL the group now (timeouts)
  // To be called when SIGCHLD arrives: reaps the command if it has exited.
  void check_exit();
  bool finished() const;
  pid_t pid() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Makes sure the engine's supervisor is alive while commands run: one killed meanwhile is
// replaced and told every running group (also done before each new command).
void check_supervisor();

// The supervisor's main: relengine-supervise --groups (or relengine __supervise --groups), with
// the engine's pipe as stdin.
int supervise_main(int argc, char** argv);

// The supervisor binary: relengine-supervise next to this executable, or this executable's
// `__supervise` mode, unless set (unit tests set it).
void set_supervisor_binary(const std::string& path);

}  // namespace relengine::exec
