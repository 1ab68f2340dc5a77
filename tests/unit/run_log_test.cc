// exec/run_log: the run's one append-only log, records naming their step and attempt; read back
// by step, interleaved attempts kept apart, a tail cut off by a crash repaired on the next open.
#include "state/run_log.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.h"

using namespace relengine::state;
namespace fs = std::filesystem;

namespace {}  // namespace

TEST_CASE("RunLog: interleaved attempts of several steps read back apart, by step and attempt") {
  TempDirectory dir;
  const fs::path file = run_log_path(dir.path, "20261201-120000-abcd");
  CHECK(file == dir.path / "20261201-120000-abcd.log");
  RunLog log;
  std::string error;
  REQUIRE(log.open(file, error));
  log.add(RunLog::head("build", 1), "compiling\n");
  log.add(RunLog::head("test", 1), "first ");
  log.add(RunLog::head("build", 1), "done\n");
  log.add(RunLog::head("test", 1), "try failed\n");
  log.add(RunLog::head("test", 2), "second try\n");
  log.add(RunLog::head("test", 2), "");  // nothing to record: no record
  const std::uint64_t before_write = log.size();
  REQUIRE(log.write(error));
  CHECK(log.size() == before_write);
  CHECK(fs::file_size(file) == log.size());

  auto build = read_run_log(file, "build");
  CHECK(build == std::map<int, std::string>{{1, "compiling\ndone\n"}});
  auto test = read_run_log(file, "test");
  CHECK(test == std::map<int, std::string>{{1, "first try failed\n"}, {2, "second try\n"}});
  CHECK(read_run_log(file, "deploy").empty());
  CHECK(read_run_log(dir.path / "missing.log", "build").empty());

  // From an offset: only what came after (how a step's records of this engine are found).
  const std::uint64_t mark = log.size();
  log.add(RunLog::head("build", 2), "again\n");
  REQUIRE(log.write(error));
  CHECK(read_run_log(file, "build", mark) == std::map<int, std::string>{{2, "again\n"}});

  // Private: the log holds whatever a tool printed.
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("RunLog: a record cut off by a crash is dropped on the next open, and appending goes on after it") {
  TempDirectory dir;
  const fs::path file = dir.path / "run.log";
  std::string error;
  {
    RunLog log;
    REQUIRE(log.open(file, error));
    log.add(RunLog::head("a", 1), "whole record\n");
    log.add(RunLog::head("b", 1), "this one is cut off\n");
    REQUIRE(log.write(error));
  }
  const std::string whole = slurp(file);
  fs::resize_file(file, whole.size() - 5);  // the engine was killed during the second write
  CHECK(read_run_log(file, "b").empty());   // a reader never sees half a record
  CHECK(read_run_log(file, "a") == std::map<int, std::string>{{1, "whole record\n"}});

  RunLog log;
  REQUIRE(log.open(file, error));
  CHECK(log.size() < whole.size() - 5);  // cut back to the end of the last whole record
  CHECK(fs::file_size(file) == log.size());
  log.add(RunLog::head("b", 2), "after the crash\n");
  REQUIRE(log.write(error));
  CHECK(read_run_log(file, "b") == std::map<int, std::string>{{2, "after the crash\n"}});
  CHECK(read_run_log(file, "a") == std::map<int, std::string>{{1, "whole record\n"}});
}

TEST_CASE("RunLog: damage in the middle is skipped up to the next record, and step ids are JSON-escaped") {
  TempDirectory dir;
  std::string error;
  auto one_record = [&](const std::string& name, const std::string& step, const std::string& text) {
    RunLog log;
    REQUIRE(log.open(dir.path / name, error));
    log.add(RunLog::head(step, 1), text);
    REQUIRE(log.write(error));
    return slurp(dir.path / name);
  };
  const std::string a = one_record("a.log", "x\"y[1]", "quoted id\n");
  const std::string b = one_record("b.log", "z", "after the damage\n");
  const fs::path file = dir.path / "run.log";
  {
    std::ofstream out(file, std::ios::binary);
    out << a << "\x1enot a header\nnoise" << b;
  }
  CHECK(read_run_log(file, "x\"y[1]") == std::map<int, std::string>{{1, "quoted id\n"}});
  CHECK(read_run_log(file, "z") == std::map<int, std::string>{{1, "after the damage\n"}});
  // Opening it keeps both: only a damaged end is cut.
  RunLog log;
  REQUIRE(log.open(file, error));
  CHECK(log.size() == a.size() + 19 + b.size());
}

TEST_CASE("RunLog: a log that cannot be opened says why") {
  TempDirectory dir;
  RunLog log;
  std::string error;
  CHECK_FALSE(log.open(dir.path / "no-such-dir" / "run.log", error));
  CHECK(error.find("no-such-dir") != std::string::npos);
}
