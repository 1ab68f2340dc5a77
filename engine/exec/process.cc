#include "exec/process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
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
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/posix.hpp>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

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
std::string supervisor_exe() {
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

// Consumes a SIGPIPE left pending (blocked) by a write to a closed pipe. Async-signal-safe: also
// used in the vforked child.
void drop_pending_sigpipe() {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  timespec zero{};
  while (::sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
  }
}

// Writes messages to the supervisor's pipe; false when the supervisor is gone. SIGPIPE is
// blocked for the write and a pending one consumed, so a dead supervisor never kills the engine.
bool send_to(int fd, const int32_t* messages, size_t count) {
  sigset_t pipe_only, before;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &before);
  ssize_t r;
  const size_t bytes = count * sizeof(int32_t);
  while ((r = ::write(fd, messages, bytes)) < 0 && errno == EINTR) {
  }
  if (r < 0 && errno == EPIPE) drop_pending_sigpipe();
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return r == static_cast<ssize_t>(bytes);
}

// The engine's supervisor (see supervisor.cc), started with the first command. Its stdin is a
// pipe whose write end is close-on-exec: only the engine and its children between vfork and
// execve hold it, so the supervisor reads end of file exactly when the engine is gone. Should the
// supervisor itself die (killed by someone), the next command starts a new one and tells it every
// group still running.
class Supervisor {
 public:
  static Supervisor& get() {
    static Supervisor instance;
    return instance;
  }

  // The pipe to write to, with a live supervisor behind it; -1 when none can be started.
  int fd() {
    if (fd_ >= 0) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 0) >= 0 && !(p.revents & (POLLERR | POLLHUP))) return fd_;
      ::close(fd_);  // its reader is gone
      fd_ = -1;
      reap(false);
    }
    start();
    if (fd_ >= 0 && !groups_.empty()) {
      std::vector<int32_t> all(groups_.begin(), groups_.end());
      send_to(fd_, all.data(), all.size());
    }
    return fd_;
  }

  int checked_fd() const { return fd_; }  // what fd() returned last, without looking again

  void registered(pid_t group) { groups_.insert(static_cast<int32_t>(group)); }  // the child told it itself
  void forget(pid_t group) {
    groups_.erase(static_cast<int32_t>(group));
    int32_t message = -static_cast<int32_t>(group);
    if (fd_ >= 0) send_to(fd_, &message, 1);
  }

 private:
  void start() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return;
    std::vector<std::string> args;
    if (fs::path(supervisor_exe()).filename() != "relengine-supervise") args.push_back("__supervise");
    args.push_back("--groups");
    std::error_code ec;
    int in = p[0];
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    bp::child sup(bp::exe = supervisor_exe(), bp::args = args, bp::std_out > bp::null, bp::std_err > bp::null,
                  bp::extend::on_exec_setup([in](auto&) {
                    ::dup2(in, 0);             // dup2 clears close-on-exec on 0
                    ::close_range(3, ~0U, 0);  // nothing of the engine's: no step's output pipe
                    ::setpgid(0, 0);           // out of the engine's group: a Ctrl-C is not for it
                  }),
                  ec);
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
    ::close(p[0]);
    if (ec) {
      ::close(p[1]);
      return;
    }
    pid_ = sup.id();
    sup.detach();  // waited for by reap(): it must outlive an engine killed with SIGKILL
    fd_ = p[1];
  }

  // At the engine's normal end: end of file for the supervisor, which then exits at once; waiting
  // for it leaves no zombie behind where nothing reaps orphans (containers without an init).
  ~Supervisor() {
    if (fd_ >= 0) ::close(fd_);
    reap(true);
  }

  void reap(bool wait) {
    if (pid_ <= 0) return;
    for (int i = 0; i < (wait ? 5000 : 1); ++i) {         // at most a second
      if (::waitpid(pid_, nullptr, WNOHANG) != 0) break;  // reaped, or not ours any more
      ::usleep(200);
    }
    pid_ = -1;
  }

  int fd_ = -1;
  pid_t pid_ = -1;
  std::set<int32_t> groups_;  // registered and not yet forgotten
};

// PATH lookup as execvp does it, in the engine (the vforked child must not allocate), with the
// command's own PATH. The last answer for each name and PATH is remembered and used while it is
// still an executable file (one access() instead of one per PATH entry for every step).
std::string find_program(const std::string& name, const std::map<std::string, std::string>& env) {
  if (name.empty() || name.find('/') != std::string::npos) return name;
  auto it = env.find("PATH");
  std::string path = it != env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin";
  static std::map<std::pair<std::string, std::string>, std::string> found;
  auto key = std::make_pair(name, path);
  if (auto f = found.find(key); f != found.end() && ::access(f->second.c_str(), X_OK) == 0) return f->second;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return found[key] = candidate;
    start = end + 1;
  }
  return name;
}

}  // namespace

void set_supervisor_binary(const std::string& path) { supervisor_binary() = path; }

void check_supervisor() { Supervisor::get().fd(); }

struct ProcessGroup::Impl {
  boost::asio::io_context& io;
  bp::async_pipe pipe;
  bp::child child;
  pid_t group = -1;
  double grace = 5;
  OutputHandler on_output;
  ExitHandler on_exit;
  std::array<char, 8192> buffer{};
  bool exited = false;
  bool eof = false;
  bool reported = false;
  ExitStatus status;
  boost::asio::steady_timer drain_timer;
  boost::asio::steady_timer grace_timer;

  explicit Impl(boost::asio::io_context& io_) : io(io_), pipe(io_), drain_timer(io_), grace_timer(io_) {}

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

  // The command is done, or must be: nothing of its group survives it, and the supervisor
  // forgets the group only once it is gone.
  void end_group() {
    if (group <= 0) return;
    ::kill(-group, SIGKILL);
    Supervisor::get().forget(group);
    group = -1;
    grace_timer.cancel();
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
    : impl_(
          (Supervisor::get().fd(), std::make_unique<Impl>(io))) {  // the supervisor first: it must not inherit our pipe
  impl_->on_output = std::move(on_output);
  impl_->on_exit = std::move(on_exit);
  impl_->grace = spec.grace_seconds;
  // The environment is handed to execve directly: Boost 1.74's basic_environment reads past
  // the end of its strings when looking a name up (found by ASan).
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string program = spec.argv.empty() ? std::string() : find_program(spec.argv[0], spec.env);
  std::vector<std::string> args(spec.argv.begin() + (spec.argv.empty() ? 0 : 1), spec.argv.end());
  int sup = Supervisor::get().checked_fd();  // looked at (and started if need be) just above
  if (sup < 0) {
    impl_->exited = impl_->eof = true;
    impl_->status = {127, false, "cannot start relengine-supervise (it kills a step's processes if the engine dies)"};
    boost::asio::post(io, [impl = impl_.get()] { impl->maybe_report(); });
    return;
  }
  // vfork, not fork: the child borrows the engine's address space until execve instead of copying
  // its page tables (the largest kernel cost per step in the profile, docs/PERFORMANCE.md). The
  // borrowed child must not run the engine's signal handlers: every signal is blocked from before
  // vfork, the child resets every disposition (its own copy) and restores the mask just before
  // execve, and the parent restores its mask as soon as vfork returns. Between vfork and execve
  // the child only makes system calls: into the workdir, its own group, then that group's id to
  // the supervisor, so no process of the command can exist before the supervisor knows its group.
  //
  // The child enters the workdir itself: Boost 1.74's start_dir ignores a failing chdir, and the
  // command would then run in the engine's directory (a release step in the wrong checkout). When
  // it cannot, it stores errno in `workdir_errno` and exits 127 before anything else. That
  // variable is the parent's: a vforked child shares the engine's memory, and the parent resumes
  // only once the child has exited or executed (how Boost's own vfork launcher reports an execve
  // failure). So the command runs in its workdir or not at all.
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  const std::string failed = "relengine: cannot run " + (spec.argv.empty() ? std::string() : spec.argv[0]) + ": ";
  const char* workdir = spec.workdir.empty() ? nullptr : spec.workdir.c_str();
  // volatile: the compiler sees no store to it on the parent's path (the store happens in the
  // child, through the shared memory), so without it the parent's read could be folded to 0.
  volatile int workdir_errno = 0;
  std::error_code ec;
  impl_->child =
      bp::child(bp::exe = program, bp::args = args, bp::std_in<bp::null, (bp::std_out & bp::std_err)> impl_->pipe,
                bp::posix::use_vfork, bp::extend::on_setup([&envp](auto& exec) { exec.env = envp.data(); }),
                bp::extend::on_exec_setup([sup, &before, &failed, workdir, &workdir_errno](auto& exec) {
                  if (workdir && ::chdir(workdir) != 0) {
                    workdir_errno = errno;
                    ::_exit(127);
                  }
                  ::setpgid(0, 0);
                  int32_t self = static_cast<int32_t>(::getpid());
                  while (::write(sup, &self, sizeof self) < 0 && errno == EINTR) {
                  }
                  // (Should the supervisor have died this instant, the write failed with EPIPE and left a
                  // SIGPIPE pending, which is consumed here; the engine tells the next supervisor.)
                  drop_pending_sigpipe();
                  struct sigaction dfl {};
                  dfl.sa_handler = SIG_DFL;
                  for (int s = 1; s < NSIG; ++s)
                    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);
                  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
                  // None of the engine's descriptors reach the command (the state database, another step's
                  // output pipe, which would otherwise stay open until this command ends).
                  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
                  ::execve(exec.exe, exec.cmd_line, exec.env);
                  // Like a shell: 127 and the reason on the command's own output.
                  const char* why = ::strerrordesc_np(errno);
                  [[maybe_unused]] auto ignored = ::write(2, failed.data(), failed.size()) +
                                                  ::write(2, why, std::strlen(why)) + ::write(2, "\n", 1);
                  int32_t gone = -self;
                  ignored = ::write(sup, &gone, sizeof gone);
                  ::_exit(127);
                }),
                ec);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (!ec && workdir_errno != 0) {
    impl_->child.wait(ec);  // it has exited already: reaped here, never registered
    ec.clear();
    impl_->exited = impl_->eof = true;
    impl_->status = {127, false, "cannot enter workdir " + spec.workdir + ": " + std::strerror(workdir_errno)};
    boost::asio::post(io, [impl = impl_.get()] { impl->maybe_report(); });
    return;
  }
  if (ec) {
    impl_->exited = impl_->eof = true;
    impl_->status = {127, false, "cannot start the command: " + ec.message()};
    boost::asio::post(io, [impl = impl_.get()] { impl->maybe_report(); });
    return;
  }
  impl_->group = impl_->child.id();
  Supervisor::get().registered(impl_->group);
  impl_->read();
}

ProcessGroup::~ProcessGroup() {
  if (!impl_) return;
  if (impl_->child.valid() && !impl_->exited) {
    std::error_code ec;
    ::kill(-impl_->child.id(), SIGKILL);
    impl_->child.wait(ec);
  }
  impl_->end_group();
  if (impl_->child.valid()) impl_->child.detach();
}

void ProcessGroup::terminate() {
  if (impl_->exited || impl_->group <= 0 || impl_->grace_timer.expiry() > std::chrono::steady_clock::now()) return;
  ::kill(-impl_->group, SIGTERM);
  impl_->grace_timer.expires_after(std::chrono::milliseconds(static_cast<long>(impl_->grace * 1000)));
  impl_->grace_timer.async_wait([impl = impl_.get()](const boost::system::error_code& ec) {
    if (!ec && impl->group > 0) ::kill(-impl->group, SIGKILL);
  });
}

void ProcessGroup::kill() {
  if (!impl_->exited && impl_->group > 0) ::kill(-impl_->group, SIGKILL);
}

void ProcessGroup::check_exit() {
  if (impl_->exited || !impl_->child.valid()) return;
  std::error_code ec;
  if (impl_->child.running(ec)) return;
  impl_->exited = true;
  impl_->end_group();  // background processes do not outlive their step
  int raw = impl_->child.native_exit_code();
  impl_->status.code = WIFEXITED(raw) ? WEXITSTATUS(raw) : WIFSIGNALED(raw) ? 128 + WTERMSIG(raw) : 1;
  impl_->maybe_report();
}

bool ProcessGroup::finished() const { return impl_->reported; }

pid_t ProcessGroup::pid() const { return impl_->child.valid() ? impl_->child.id() : -1; }

}  // namespace relengine::exec
