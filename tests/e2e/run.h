// Helpers for end-to-end tests: run the real relengine binary (or any command) and capture
// its exit code, stdout and stderr; make temporary directories and files.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace e2e {

namespace fs = std::filesystem;

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
  std::string line = "{ " + command + "\n} >" + quote((tmp / "out").string()) + " 2>" + quote((tmp / "err").string()) +
                     " </dev/null";
  int status = std::system(line.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(tmp / "out");
  r.err = slurp(tmp / "err");
  return r;
}

inline Result relengine(const std::vector<std::string>& args, const std::string& cwd = "", const std::string& env = "") {
  std::string line;
  if (!cwd.empty()) line += "cd " + quote(cwd) + " && ";
  line += "env " + env + " " + quote(RELENGINE_BIN);
  for (const auto& a : args) line += " " + quote(a);
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
