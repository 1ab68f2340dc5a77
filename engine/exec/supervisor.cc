// The supervisor: one small process per engine that kills the process groups of every running
// command when the engine goes away, however it goes (kill -9 included). The engine starts each
// command in a group of its own; before the command's program is executed, the child writes its
// group id into the supervisor's stdin (a pipe whose write end only the engine and such children
// hold). When the engine ends a group itself, it writes the negated id. End of file means the
// engine is gone: every group still registered is killed. Depends on libc only, so that the
// `relengine-supervise` binary built from this file starts fast.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "exec/process.h"

namespace relengine::exec {

namespace {

// The registered groups: a small open-addressing set would do, but the number running at once is
// the -j of the run, so a flat array with linear search is simplest and fast enough.
struct Groups {
  static constexpr int kMax = 4096;
  int32_t id[kMax];
  int n = 0;

  void add(int32_t g) {
    if (n < kMax)
      id[n++] = g;
    else
      ::kill(-g, SIGKILL);  // cannot track it: better never to leave it behind
  }
  void remove(int32_t g) {
    for (int i = 0; i < n; ++i)
      if (id[i] == g) {
        id[i] = id[--n];
        return;
      }
  }
};

}  // namespace

int supervise_main(int argc, char** argv) {
  // argv: relengine-supervise --groups   (or relengine __supervise --groups); stdin: the pipe
  if (argc < 2 || std::strcmp(argv[argc - 1], "--groups") != 0) {
    std::fprintf(stderr, "relengine-supervise: internal use only\n");
    return 125;
  }
  // Ctrl-C, a closed terminal or a TERM sent to the engine's process group are for the engine;
  // this process only ends when the engine is gone.
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) signal(s, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // the engine starts us with every signal blocked
  static Groups groups;
  int32_t buf[256];
  size_t have = 0;  // bytes in buf
  while (true) {
    ssize_t r = read(0, reinterpret_cast<char*>(buf) + have, sizeof buf - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // the engine is gone (or the pipe broke): same thing
    have += static_cast<size_t>(r);
    size_t whole = have / sizeof(int32_t);
    for (size_t i = 0; i < whole; ++i) {
      if (buf[i] > 0)
        groups.add(buf[i]);
      else if (buf[i] < 0)
        groups.remove(-buf[i]);
    }
    size_t rest = have % sizeof(int32_t);
    std::memmove(buf, reinterpret_cast<char*>(buf) + whole * sizeof(int32_t), rest);
    have = rest;
  }
  for (int i = 0; i < groups.n; ++i) ::kill(-groups.id[i], SIGKILL);
  return 0;
}

}  // namespace relengine::exec
