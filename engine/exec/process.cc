#include "exec/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <boost/process/start_dir.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace relengine::exec {

namespace bp = boost::process;
namespace fs = std::filesystem;

namespace {

std::string& supervisor_binary() {
  static std::string path;
  return path;
}

// The small `relengine-supervise` next to this binary when it is there (it starts in a fraction
// of the time: no libraries to load), else this binary's `__supervise` mode.
std::string self_exe() {
  if (!supervisor_binary().empty()) return supervisor_binary();
  static const std::string found = [] {
    std::error_code ec;
    auto self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return std::string("relengine");
    auto small = self.parent_path() / "relengine-supervise";
    return fs::exists(small, ec) ? small.string() : self.string();
  }();
  return found;
}

}  // namespace

void set_supervisor_binary(const std::string& path) { supervisor_binary() = path; }

struct ProcessGroup::Impl {
  boost::asio::io_context& io;
  bp::async_pipe pipe;
  bp::child child;
  OutputHandler on_output;
  ExitHandler on_exit;
  std::array<char, 8192> buffer{};
  bool exited = false;
  bool eof = false;
  bool reported = false;
  ExitStatus status;
  boost::asio::steady_timer drain_timer;

  explicit Impl(boost::asio::io_context& io_) : io(io_), pipe(io_), drain_timer(io_) {}

  void read() {
    pipe.async_read_some(boost::asio::buffer(buffer), [this](const boost::system::error_code& ec, std::size_t n) {
      if (n > 0 && on_output) on_output(std::string_view(buffer.data(), n));
      if (ec) {
        eof = true;
        maybe_report();
        return;
      }
      read();
    });
  }

  void maybe_report() {
    if (reported || !exited) return;
    if (!eof) {
      // A process that left the group may still hold the pipe: do not wait for it forever.
      drain_timer.expires_after(std::chrono::seconds(2));
      drain_timer.async_wait([this](const boost::system::error_code& ec) {
        if (ec || reported) return;
        boost::system::error_code ignored;
        pipe.close(ignored);
        eof = true;
        maybe_report();
      });
      return;
    }
    reported = true;
    drain_timer.cancel();
    if (on_exit) on_exit(status);
  }
};

ProcessGroup::ProcessGroup(boost::asio::io_context& io, const CommandSpec& spec, OutputHandler on_output,
                           ExitHandler on_exit)
    : impl_(std::make_unique<Impl>(io)) {
  impl_->on_output = std::move(on_output);
  impl_->on_exit = std::move(on_exit);
  std::vector<std::string> args = {"__supervise", std::to_string(getpid()), std::to_string(spec.grace_seconds), "--"};
  args.insert(args.end(), spec.argv.begin(), spec.argv.end());
  // The environment is handed to execve directly: Boost 1.74's basic_environment reads past
  // the end of its strings when looking a name up (found by ASan).
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::error_code ec;
  impl_->child = bp::child(bp::exe = self_exe(), bp::args = args, bp::start_dir = spec.workdir, bp::std_in < bp::null,
                           (bp::std_out & bp::std_err) > impl_->pipe,
                           bp::extend::on_setup([&envp](auto& exec) { exec.env = envp.data(); }), ec);
  if (ec) {
    impl_->exited = impl_->eof = true;
    impl_->status = {127, false, "cannot start the command: " + ec.message()};
    boost::asio::post(io, [impl = impl_.get()] { impl->maybe_report(); });
    return;
  }
  impl_->read();
}

ProcessGroup::~ProcessGroup() {
  if (impl_ && impl_->child.valid() && !impl_->exited) {
    std::error_code ec;
    ::kill(impl_->child.id(), SIGUSR1);
    impl_->child.wait(ec);
  }
  if (impl_ && impl_->child.valid()) impl_->child.detach();
}

void ProcessGroup::terminate() {
  if (!impl_->exited && impl_->child.valid()) ::kill(impl_->child.id(), SIGTERM);
}

void ProcessGroup::kill() {
  if (!impl_->exited && impl_->child.valid()) ::kill(impl_->child.id(), SIGUSR1);
}

void ProcessGroup::check_exit() {
  if (impl_->exited || !impl_->child.valid()) return;
  std::error_code ec;
  if (impl_->child.running(ec)) return;
  impl_->exited = true;
  int raw = impl_->child.native_exit_code();
  impl_->status.code = WIFEXITED(raw) ? WEXITSTATUS(raw) : WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : 1;
  impl_->maybe_report();
}

bool ProcessGroup::finished() const { return impl_->reported; }

pid_t ProcessGroup::pid() const { return impl_->child.valid() ? impl_->child.id() : -1; }

}  // namespace relengine::exec
