// The least a runner with a durable checkpoint per transition in SQLite can do per step, for
// bench/run: one commit (WAL, synchronous=FULL, as relengine's store: the step before is done and
// this one running, in one transaction), then posix_spawn of `/bin/sh -c true` and waitpid. No
// playbook, no scheduling, no logs, no supervisor: a bound no engine keeping its state in SQLite
// can go under on the same disk.
//   durable_floor DB STEPS
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char** environ;

static sqlite3* db;

static void check(int rc) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fprintf(stderr, "durable_floor: %s\n", sqlite3_errmsg(db));
    exit(1);
  }
}

static void run(sqlite3_stmt* s) {
  check(sqlite3_step(s));
  sqlite3_reset(s);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: durable_floor DB STEPS\n");
    return 2;
  }
  int steps = atoi(argv[2]);
  check(sqlite3_open(argv[1], &db));
  check(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                     "CREATE TABLE steps(id INTEGER PRIMARY KEY, status TEXT NOT NULL)",
                     NULL, NULL, NULL));
  sqlite3_stmt *begin, *commit, *done, *running;
  check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL));
  check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL));
  check(sqlite3_prepare_v2(db, "UPDATE steps SET status = 'done' WHERE id = ?", -1, &done, NULL));
  check(sqlite3_prepare_v2(db, "INSERT INTO steps(id, status) VALUES (?, 'running')", -1, &running, NULL));
  char* args[] = {"/bin/sh", "-c", "true", NULL};
  for (int i = 0; i < steps; ++i) {
    run(begin);
    if (i > 0) {
      sqlite3_bind_int(done, 1, i - 1);
      run(done);
    }
    sqlite3_bind_int(running, 1, i);
    run(running);
    run(commit);  // durable before the command starts
    pid_t pid;
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, args, environ) != 0) return 1;
    int status;
    if (waitpid(pid, &status, 0) != pid || status != 0) return 1;
  }
  check(sqlite3_exec(db, "BEGIN IMMEDIATE; UPDATE steps SET status = 'done'; COMMIT", NULL, NULL, NULL));
  sqlite3_finalize(begin), sqlite3_finalize(commit), sqlite3_finalize(done), sqlite3_finalize(running);
  return sqlite3_close(db) == SQLITE_OK ? 0 : 1;
}
