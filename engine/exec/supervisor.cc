// The per-step supervisor: starts a command in its own process group and kills the whole group
// when the command ends, on request, or when the engine dies. Depends on libc only, so that the
// small `relengine-supervise` binary (built from this file) starts fast.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "exec/process.h"

namespace relengine::exec {


int supervise_main(int argc, char** argv) {
  // argv: relengine __supervise ENGINE_PID GRACE -- PROGRAM ARGS...
  if (argc < 6 || std::string(argv[4]) != "--") {
    std::fprintf(stderr, "relengine __supervise: internal use only\n");
    return 125;
  }
  pid_t engine = static_cast<pid_t>(std::atol(argv[2]));
  double grace = std::atof(argv[3]);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD}) sigaddset(&set, s);
  sigset_t old;
  sigprocmask(SIG_BLOCK, &set, &old);
  // When the engine dies, however it dies, the kernel sends us SIGUSR2.
  prctl(PR_SET_PDEATHSIG, SIGUSR2);
  if (getppid() != engine) return 125;  // the engine is already gone

  pid_t child = fork();
  if (child < 0) {
    std::fprintf(stderr, "relengine: cannot fork: %s\n", std::strerror(errno));
    return 127;
  }
  if (child == 0) {
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    execvp(argv[5], argv + 5);
    std::fprintf(stderr, "relengine: cannot run %s: %s\n", argv[5], std::strerror(errno));
    _exit(127);
  }
  setpgid(child, child);  // also here, so the group exists before we might signal it

  bool killing = false;
  timespec deadline{};
  bool have_deadline = false;
  int status = 0;
  while (true) {
    int sig;
    if (have_deadline) {
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      double left = (deadline.tv_sec - now.tv_sec) + (deadline.tv_nsec - now.tv_nsec) / 1e9;
      if (left <= 0) {
        ::kill(-child, SIGKILL);
        have_deadline = false;
        continue;
      }
      timespec wait{static_cast<time_t>(left), static_cast<long>((left - std::floor(left)) * 1e9)};
      siginfo_t info;
      sig = sigtimedwait(&set, &info, &wait);
      if (sig < 0) continue;  // timeout or EINTR: loop re-checks the deadline
    } else {
      siginfo_t info;
      sig = sigwaitinfo(&set, &info);
      if (sig < 0) continue;
    }
    if (sig == SIGCHLD) {
      pid_t r = waitpid(child, &status, WNOHANG);
      if (r == child) break;
      continue;
    }
    if (sig == SIGUSR1 || sig == SIGUSR2) {
      ::kill(-child, SIGKILL);
      killing = true;
      continue;
    }
    // SIGTERM / SIGINT / SIGHUP: ask nicely, then insist after the grace period.
    if (!killing && !have_deadline) {
      ::kill(-child, SIGTERM);
      clock_gettime(CLOCK_MONOTONIC, &deadline);
      deadline.tv_sec += static_cast<time_t>(grace);
      deadline.tv_nsec += static_cast<long>((grace - std::floor(grace)) * 1e9);
      if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec += 1, deadline.tv_nsec -= 1000000000L;
      have_deadline = true;
    }
  }
  // The command is done; whatever it left running in its group goes with it.
  ::kill(-child, SIGKILL);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace relengine::exec
