// io/: AtomicFile (replaced whole or not at all, permissions kept, nothing left behind, every
// failure named) and the private directories and files of the state (exact modes, any umask).
#include <doctest/doctest.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "io/atomic_file.h"
#include "io/private_file.h"
#include "temp_dir.h"

using namespace relengine::io;
namespace fs = std::filesystem;

namespace {

int mode_of(const fs::path& p) {  // the permission bits, -1 when absent
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

struct Umask {
  mode_t before;
  explicit Umask(mode_t m) : before(::umask(m)) {}
  ~Umask() { ::umask(before); }
};

}  // namespace

TEST_CASE("AtomicFile: a new file gets its content and the mode open(2) would give it — nothing else is left") {
  TempDirectory d;
  for (mode_t mask : {mode_t(022), mode_t(077)}) {
    CAPTURE(mask);
    Umask umask(mask);
    fs::path target = d.path / (mask == 022 ? "shared" : "private");
    AtomicFile f(target.string());
    CHECK(f.write("one "));
    CHECK(f.write("two\n"));
    CHECK_FALSE(fs::exists(target));  // nothing before commit()
    REQUIRE_MESSAGE(f.commit(), f.error());
    CHECK(slurp(target) == "one two\n");
    CHECK(mode_of(target) == int(0666 & ~mask));
  }
  CHECK(names_in(d.path) == std::set<std::string>{"private", "shared"});
  Umask umask(022);
  std::string error;
  REQUIRE(write_file_atomically(d / "script", "#!/bin/sh\n", error, 0755));
  CHECK(mode_of(d / "script") == 0755);
}

TEST_CASE("AtomicFile: an existing file is replaced whole and keeps its permissions") {
  TempDirectory d;
  fs::path target = d.path / "values.yaml";
  std::ofstream(target) << "old\n";
  ::chmod(target.c_str(), 0640);
  struct stat before {};
  ::stat(target.c_str(), &before);
  std::string error;
  REQUIRE_MESSAGE(write_file_atomically(target.string(), "new\n", error), error);
  struct stat after {};
  ::stat(target.c_str(), &after);
  CHECK(slurp(target) == "new\n");
  CHECK(mode_of(target) == 0640);
  CHECK(after.st_ino != before.st_ino);  // a new file renamed over the old one, never rewritten in place
  CHECK(names_in(d.path) == std::set<std::string>{"values.yaml"});
}

TEST_CASE("AtomicFile: without commit() the target is untouched and the temporary file is removed") {
  TempDirectory d;
  fs::path target = d.path / "kept";
  std::ofstream(target) << "precious\n";
  {
    AtomicFile f(target.string());
    CHECK(f.write("half of the new"));
    CHECK(names_in(d.path).size() == 2);  // the temporary file exists meanwhile
  }
  CHECK(slurp(target) == "precious\n");
  CHECK(names_in(d.path) == std::set<std::string>{"kept"});
}

TEST_CASE("AtomicFile: every failure is an error naming the file and the reason, and leaves nothing behind") {
  TempDirectory d;
  SUBCASE("a directory that does not exist") {
    std::string target = d / "missing/out.html";
    AtomicFile f(target);
    CHECK_FALSE(f.write("x"));
    CHECK_FALSE(f.commit());
    CHECK(f.error() == "cannot create a temporary file next to " + target + ": No such file or directory");
    std::string error;
    CHECK_FALSE(write_file_atomically(target, "x", error));
    CHECK(error == f.error());
  }
  SUBCASE("a target that cannot be replaced: a directory") {
    fs::create_directory(d.path / "out.html");
    AtomicFile f(d / "out.html");
    CHECK(f.write("x"));
    CHECK_FALSE(f.commit());
    CHECK(f.error() == "cannot replace " + (d / "out.html") + ": Is a directory");
    CHECK_FALSE(f.commit());  // the first error stays
  }
  CHECK(names_in(d.path).size() <= 1);
  for (const auto& name : names_in(d.path)) CHECK(name == "out.html");
}

TEST_CASE("AtomicFile: a directory the user cannot write to (as an unprivileged user)") {
  TempDirectory d;
  ::chmod(d.path.c_str(), 0755);
  fs::path ro = d.path / "ro";
  fs::create_directory(ro);
  std::ofstream(ro / "file") << "old\n";
  ::chmod(ro.c_str(), 0555);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  pid_t child = ::fork();
  if (child == 0) {  // drops privileges for good, so in a child of the test
    ::close(p[0]);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                             ::setresuid(65534, 65534, 65534) != 0))
      ::_exit(77);
    std::string error;
    bool ok = write_file_atomically((ro / "file").string(), "new\n", error);
    [[maybe_unused]] auto n = ::write(p[1], error.data(), error.size());
    ::_exit(ok ? 1 : 0);
  }
  ::close(p[1]);
  std::string error;
  char buf[512];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) error.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  ::chmod(ro.c_str(), 0755);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    MESSAGE("NOT TESTED: cannot drop privileges to uid 65534");
    return;
  }
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(error == "cannot create a temporary file next to " + (ro / "file").string() + ": Permission denied");
  CHECK(slurp(ro / "file") == "old\n");
  CHECK(names_in(ro) == std::set<std::string>{"file"});
}

TEST_CASE("make_private_dirs: every directory it creates is 0700 whatever the umask — existing ones are left") {
  TempDirectory d;
  ::chmod(d.path.c_str(), 0755);
  for (mode_t mask : {mode_t(0), mode_t(0277)}) {
    CAPTURE(mask);
    Umask umask(mask);
    fs::path deep = d.path / ("m" + std::to_string(mask)) / "logs" / "run";
    std::string error;
    REQUIRE_MESSAGE(make_private_dirs(deep.string() + "/", error), error);
    CHECK(mode_of(deep) == 0700);
    CHECK(mode_of(deep.parent_path()) == 0700);
    CHECK(mode_of(deep.parent_path().parent_path()) == 0700);
    CHECK(make_private_dirs(deep.string(), error));  // there already: fine
  }
  CHECK(mode_of(d.path) == 0755);  // existed: left as it is
  std::ofstream(d.path / "file") << "x";
  std::string error;
  CHECK_FALSE(make_private_dirs(d / "file/sub", error));
  CHECK(error == "cannot create the directory " + (d / "file/sub") + ": Not a directory");
  CHECK_FALSE(make_private_dirs(d / "file", error));
  CHECK(error == "cannot create the directory " + (d / "file") + ": Not a directory");
}

TEST_CASE("open_private_file: 0600 whatever the umask — Truncate empties, Keep keeps — never through a link") {
  TempDirectory d;
  Umask umask(0);
  std::string error;
  {
    Fd fd = open_private_file(d / "new.log", Existing::Truncate, error);
    REQUIRE_MESSAGE(fd, error);
    CHECK(::write(fd.get(), "line\n", 5) == 5);
  }
  CHECK(mode_of(d / "new.log") == 0600);
  CHECK(slurp(d / "new.log") == "line\n");
  std::ofstream(d / "old.log") << "before\n";
  ::chmod((d / "old.log").c_str(), 0644);
  REQUIRE(open_private_file(d / "old.log", Existing::Keep, error));
  CHECK(slurp(d / "old.log") == "before\n");
  CHECK(mode_of(d / "old.log") == 0600);
  REQUIRE(open_private_file(d / "old.log", Existing::Truncate, error));
  CHECK(slurp(d / "old.log").empty());
  fs::create_symlink(d / "new.log", d.path / "link.log");
  CHECK_FALSE(open_private_file(d / "link.log", Existing::Truncate, error));
  CHECK(error.rfind("cannot create " + (d / "link.log") + ": ", 0) == 0);
  CHECK(slurp(d / "new.log") == "line\n");
  CHECK_FALSE(open_private_file(d / "missing/x.log", Existing::Truncate, error));
  CHECK(error == "cannot create " + (d / "missing/x.log") + ": No such file or directory");
}
