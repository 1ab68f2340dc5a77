// Helpers for end-to-end tests: run the real relengine binary (or any command) and capture
// its exit code, stdout and stderr; make temporary directories and files.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace e2e {

namespace fs = std::filesystem;

// The relengine under test: $RELENGINE_TEST_BIN when set (scripts/test points it at the sanitizer
// build's binary, so this driver, built once, tests both), else the one built beside this driver.
inline const char* relengine_bin() {
  static const char* bin = [] {
    const char* b = std::getenv("RELENGINE_TEST_BIN");
    return b && *b ? b : RELENGINE_BUILT_BIN;
  }();
  return bin;
}
#define RELENGINE_BIN (::e2e::relengine_bin())

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

inline void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// A fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "relengine-e2e-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Runs a shell command line (all of it redirected), capturing stdout and stderr.
inline Result shell(const std::string& command) {
  TempDir tmp;
  std::string line =
      "{ " + command + "\n} >" + quote((tmp / "out").string()) + " 2>" + quote((tmp / "err").string()) + " </dev/null";
  int status = std::system(line.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(tmp / "out");
  r.err = slurp(tmp / "err");
  return r;
}

// The store the tests run against. The e2e/ tests use state directories (the SQLite store); the
// same tests as e2e-pg/ run against PostgreSQL: RELENGINE_TEST_PG names the directory of a server
// of tests/pg/pg-server (a CTest fixture starts it), and every `--state-dir DIR` a test gives
// relengine becomes that server's URL with a schema of DIR's own, so tests stay apart.
inline const std::string& postgres_url() {
  static const std::string url = [] {
    const char* dir = std::getenv("RELENGINE_TEST_PG");
    if (!dir || !*dir) return std::string();
    Result r = shell("bash " + quote(std::string(SOURCE_DIR) + "/tests/pg/pg-server") + " status " + quote(dir));
    std::string u = r.out.substr(0, r.out.find('\n'));
    if (r.code != 0 || u.empty()) {
      std::fprintf(stderr, "RELENGINE_TEST_PG=%s: no PostgreSQL server there (%s)\n", dir, r.err.c_str());
      std::exit(1);
    }
    return u;
  }();
  return url;
}
inline bool on_postgres() { return !postgres_url().empty(); }
// What --state is given for the state directory `dir`: `dir` itself, or on PostgreSQL the URL
// of a schema named after it.
inline std::string state_location(const std::string& dir) {
  if (!on_postgres()) return dir;
  char schema[32];
  std::snprintf(schema, sizeof schema, "t%016zx",
                std::hash<std::string>{}(fs::absolute(dir).lexically_normal().string()));
  return postgres_url() + "&options=-csearch_path%3D" + schema;
}
// The --state flag as relengine prints it in the commands it suggests.
inline std::string state_flag(const std::string& dir) {
  return on_postgres() ? "--state '" + state_location(dir) + "'" : "--state-dir " + dir;
}
// `argv` with the value after each --state-dir made state_location's.
inline std::vector<std::string> with_store(std::vector<std::string> argv) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == "--state-dir") argv[i + 1] = state_location(argv[i + 1]);
  return argv;
}
// A test about the SQLite store's files (state.db, the logs directory): run on SQLite only.
#define E2E_SQLITE_ONLY()                                                                   \
  do {                                                                                      \
    if (::e2e::on_postgres()) {                                                             \
      MESSAGE("about the SQLite store's files: not run against PostgreSQL (e2e/ runs it)"); \
      return;                                                                               \
    }                                                                                       \
  } while (false)

// A test that involves no store (validate, plan, list, the CLI): run in e2e/ only.
#define E2E_STORE_FREE()                                                             \
  do {                                                                               \
    if (::e2e::on_postgres()) {                                                      \
      MESSAGE("involves no store: not run again against PostgreSQL (e2e/ runs it)"); \
      return;                                                                        \
    }                                                                                \
  } while (false)

inline Result relengine(const std::vector<std::string>& args, const std::string& cwd = "",
                        const std::string& env = "") {
  std::string line;
  if (!cwd.empty()) line += "cd " + quote(cwd) + " && ";
  line += "env " + env + " " + quote(RELENGINE_BIN);
  for (const auto& a : with_store(args)) line += " " + quote(a);
  return shell(line);
}

// Is `pid` a live process (not a zombie)?
inline bool alive(int pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || stat[close + 2] != 'Z';
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace e2e

// ---- waiting for events, and engines started as children of the test ----
// A test waits for something observable (a file, a line, a state row, a process gone), never
// for a span of time that is supposed to be long enough. Deadlines only stop a test that would
// otherwise hang; on any machine, however loaded, a passing test never comes near them.

#include <fcntl.h>

#include <chrono>
#include <thread>

namespace e2e {

inline constexpr double kHangGuardSeconds = 60;

// Polls `ready` every 10 ms until it is true (true) or `seconds` have passed (false).
template <typename Pred>
bool eventually(Pred ready, double seconds = kHangGuardSeconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (true) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return ready();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The text of `p` once it holds at least one whole line (a shell's `echo $$ > f` creates the file
// before it writes to it); empty if that does not happen within `seconds`.
inline std::string wait_for_line(const fs::path& p, double seconds = kHangGuardSeconds) {
  std::string text;
  eventually(
      [&] {
        text = slurp(p);
        return !text.empty() && text.back() == '\n';
      },
      seconds);
  return !text.empty() && text.back() == '\n' ? text : std::string();
}

// Starts `argv` (argv[0] a path) as a child of this process, in `dir`, with stdin /dev/null and
// stdout and stderr appended to `log`; returns its pid (-1 if fork failed). Being our child, it
// can be waited for (wait_child): its exit code is known, and once reaped it is certainly gone.
inline int start_child(const std::vector<std::string>& argv_given, const std::string& dir, const std::string& log) {
  const std::vector<std::string> argv = with_store(argv_given);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || ::chdir(dir.c_str()) != 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::close_range(3, ~0U, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Waits up to `seconds` (0: just looks) for the child `pid` to end and reaps it. Its exit code,
// 128 + the signal when a signal ended it, or -1 when it is still running.
inline int wait_child(int pid, double seconds = kHangGuardSeconds) {
  if (pid <= 0) return -2;  // no child was started (waitpid would take any child)
  int code = -1;
  eventually(
      [&] {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        else if (r < 0)
          code = -2;  // not our child, or already reaped: a bug in the test
        return code != -1;
      },
      seconds);
  return code;
}

}  // namespace e2e
