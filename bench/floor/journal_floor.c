// The least any runner with a durable record of each transition can do per step, for bench/run:
// one 64-byte record written into a file whose blocks were written beforehand (an overwrite: no
// size or allocation to make durable with it), fdatasync, then posix_spawn of `/bin/sh -c true`
// and waitpid. A bound below SQLite's (whose commit writes whole pages, and a WAL that grows).
//   journal_floor FILE STEPS
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: journal_floor FILE STEPS\n");
    return 2;
  }
  int steps = atoi(argv[2]);
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 1;
  static char zeros[65536];
  for (long off = 0; off < (long)(steps + 1) * 64; off += (long)sizeof zeros)
    if (write(fd, zeros, sizeof zeros) != (ssize_t)sizeof zeros) return 1;
  if (fsync(fd) != 0) return 1;
  char* args[] = {"/bin/sh", "-c", "true", NULL};
  char record[64];
  for (int i = 0; i < steps; ++i) {
    memset(record, 0, sizeof record);
    snprintf(record, sizeof record, "%d done, %d running\n", i - 1, i);
    if (pwrite(fd, record, sizeof record, (off_t)i * 64) != (ssize_t)sizeof record || fdatasync(fd) != 0) return 1;
    pid_t pid;
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, args, environ) != 0) return 1;
    int status;
    if (waitpid(pid, &status, 0) != pid || status != 0) return 1;
  }
  return close(fd) == 0 ? 0 : 1;
}
