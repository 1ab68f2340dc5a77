// Built-in actions on real files and real git repositories (with a local bare remote).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "exec/actions/builtins.h"
#include "temp_dir.h"

using namespace relengine::exec::actions;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

using Dir = TempDirectory;

void spit(const std::string& p, const std::string& text) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>/dev/null").c_str(), "r");
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  pclose(f);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A repository with one commit and a bare remote called origin.
struct Repo {
  Dir dir;
  std::string work = dir / "work";
  std::string bare = dir / "remote.git";
  Repo() {
    setenv("GIT_AUTHOR_NAME", "Test", 1);
    setenv("GIT_AUTHOR_EMAIL", "test@example.com", 1);
    setenv("GIT_COMMITTER_NAME", "Test", 1);
    setenv("GIT_COMMITTER_EMAIL", "test@example.com", 1);
    sh("git init -q --bare " + bare + " && git init -q -b main " + work);
    spit(work + "/file.txt", "one\n");
    git("add -A && git -C " + work + " commit -qm first && git -C " + work + " remote add origin " + bare +
        " && git -C " + work + " push -q origin main");
  }
  std::string git(const std::string& args) { return sh("git -C " + work + " " + args); }
  std::string head() { return git("rev-parse HEAD"); }
  int commits() { return std::stoi(git("rev-list --count HEAD")); }
};

}  // namespace

TEST_CASE("yaml.set writes atomically, keeps permissions, and is unchanged the second time") {
  Dir d;
  spit(d / "v.yaml", "a: 1 # keep\nb: x\n");
  chmod((d / "v.yaml").c_str(), 0640);
  json with = {{"file", d / "v.yaml"}, {"key", "a"}, {"value", "2"}, {"type", "int"}};
  auto r = yaml_set(with);
  CHECK(r.kind == ActionResult::Kind::Changed);
  CHECK(r.outputs["previous"] == "1");
  CHECK(slurp(d / "v.yaml") == "a: 2 # keep\nb: x\n");
  struct stat st {};
  stat((d / "v.yaml").c_str(), &st);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(yaml_set(with).kind == ActionResult::Kind::Unchanged);
  auto bad = yaml_set({{"file", d / "v.yaml"}, {"key", "zz"}, {"value", "1"}});
  CHECK(bad.kind == ActionResult::Kind::Failed);
  CHECK(bad.message.find("v.yaml") != std::string::npos);
  CHECK(bad.message.find("no key 'zz'") != std::string::npos);
  CHECK(yaml_set({{"file", d / "missing.yaml"}, {"key", "a"}, {"value", "1"}}).kind == ActionResult::Kind::Failed);
  for (const auto& e : fs::directory_iterator(d.path))
    CHECK(e.path().filename().string().find(".relengine-") == std::string::npos);
}

TEST_CASE("file.replace: replaces, then reports unchanged, and a pattern that finds nothing fails") {
  Dir d;
  spit(d / "docs/a.md", "Install 0.7.0 now. Also 0.7.0.\n");
  spit(d / "docs/b.md", "nothing here\n");
  json with = {{"files", json::array({d / "docs/*.md"})}, {"pattern", "0\\.7\\.0"}, {"replacement", "0.8.0"}};
  auto r = file_replace(with);
  CHECK(r.kind == ActionResult::Kind::Changed);
  CHECK(slurp(d / "docs/a.md") == "Install 0.8.0 now. Also 0.8.0.\n");
  CHECK(r.outputs["count"] == "1");
  CHECK(file_replace(with).kind == ActionResult::Kind::Unchanged);
  auto typo =
      file_replace({{"files", json::array({d / "docs/*.md"})}, {"pattern", "0\\.9\\.9"}, {"replacement", "1.0.0"}});
  CHECK(typo.kind == ActionResult::Kind::Failed);
  CHECK(typo.message.find("check the pattern") != std::string::npos);
  CHECK(file_replace({{"files", json::array({d / "nope/*.md"})}, {"pattern", "x"}, {"replacement", "y"}}).kind ==
        ActionResult::Kind::Failed);
  CHECK(file_replace({{"files", json::array({d / "docs/*.md"})}, {"pattern", "("}, {"replacement", "y"}}).kind ==
        ActionResult::Kind::Failed);
}

TEST_CASE("git.commit commits the given paths once, then is unchanged") {
  Repo repo;
  spit(repo.work + "/file.txt", "two\n");
  spit(repo.work + "/other.txt", "untouched\n");
  json with = {{"repo", repo.work}, {"message", "bump"}, {"paths", json::array({"file.txt"})}};
  auto r = git_commit(with);
  CHECK(r.kind == ActionResult::Kind::Changed);
  CHECK(r.outputs["sha"] == repo.head());
  CHECK(repo.commits() == 2);
  CHECK(repo.git("status --porcelain") == "?? other.txt");
  auto again = git_commit(with);
  CHECK(again.kind == ActionResult::Kind::Unchanged);
  CHECK(again.outputs["sha"] == repo.head());
  CHECK(repo.commits() == 2);
}

TEST_CASE("git.tag creates and pushes, is unchanged after, and never moves a tag") {
  Repo repo;
  std::string first = repo.head();
  json with = {{"repo", repo.work}, {"tag", "src/api/v1.0.0"}, {"ref", "HEAD"}, {"remote", "origin"}};
  auto r = git_tag(with);
  CHECK(r.kind == ActionResult::Kind::Changed);
  CHECK(r.outputs["sha"] == first);
  CHECK(sh("git -C " + repo.bare + " rev-parse refs/tags/src/api/v1.0.0") == first);
  CHECK(git_tag(with).kind == ActionResult::Kind::Unchanged);

  // A new commit: the same tag at another commit is refused, locally and remotely.
  spit(repo.work + "/file.txt", "two\n");
  repo.git("commit -qam second");
  auto moved = git_tag(with);
  CHECK(moved.kind == ActionResult::Kind::Failed);
  CHECK(moved.message.find(first) != std::string::npos);
  CHECK(moved.message.find(repo.head()) != std::string::npos);
  CHECK(moved.message.find("next patch version") != std::string::npos);
  CHECK(repo.git("rev-parse refs/tags/src/api/v1.0.0") == first);
  CHECK(sh("git -C " + repo.bare + " rev-parse refs/tags/src/api/v1.0.0") == first);

  // Only on the remote, at another commit (the local tag was deleted by hand): still refused.
  repo.git("tag -d src/api/v1.0.0");
  moved = git_tag(with);
  CHECK(moved.kind == ActionResult::Kind::Failed);
  CHECK(moved.message.find("on origin") != std::string::npos);
  CHECK(repo.git("rev-parse -q --verify refs/tags/src/api/v1.0.0").empty());

  // Local only (a push failed before): pushed on the next run.
  json local = {{"repo", repo.work}, {"tag", "v2"}, {"message", "annotated"}};
  CHECK(git_tag(local).kind == ActionResult::Kind::Changed);
  local["remote"] = "origin";
  auto pushed = git_tag(local);
  CHECK(pushed.kind == ActionResult::Kind::Changed);
  CHECK(pushed.message.find("pushed existing") != std::string::npos);
  CHECK(git_tag(local).kind == ActionResult::Kind::Unchanged);  // annotated: compared by its commit

  CHECK(git_tag({{"repo", repo.work}, {"tag", "bad..name"}}).kind == ActionResult::Kind::Failed);
  CHECK(git_tag({{"repo", repo.work}, {"tag", "x"}, {"ref", "no-such-ref"}}).kind == ActionResult::Kind::Failed);
}

TEST_CASE("git.revert reverts once — a revert found by message or content is unchanged") {
  Repo repo;
  spit(repo.work + "/file.txt", "pinned\n");
  repo.git("commit -qam pin");
  std::string pin = repo.head();
  spit(repo.work + "/other.txt", "later\n");
  repo.git("add other.txt");
  repo.git("commit -qm later");
  json with = {{"repo", repo.work}, {"commit", pin}};
  auto r = git_revert(with);
  CHECK(r.kind == ActionResult::Kind::Changed);
  CHECK(slurp(repo.work + "/file.txt") == "one\n");
  CHECK(r.outputs["sha"] == repo.head());
  int commits = repo.commits();
  auto again = git_revert(with);
  CHECK(again.kind == ActionResult::Kind::Unchanged);
  CHECK(again.outputs["sha"] == r.outputs["sha"]);
  CHECK(repo.commits() == commits);

  // Undone by hand (no revert message): unchanged by content.
  spit(repo.work + "/file.txt", "pinned again\n");
  repo.git("commit -qam pin2");
  std::string pin2 = repo.head();
  spit(repo.work + "/file.txt", "one\n");
  repo.git("commit -qam 'undo by hand'");
  CHECK(git_revert({{"repo", repo.work}, {"commit", pin2}}).kind == ActionResult::Kind::Unchanged);
  CHECK(git_revert({{"repo", repo.work}, {"commit", "0000000"}}).kind == ActionResult::Kind::Failed);
}

TEST_CASE("git.revert of a merge commit (a pull request merged with one) reverts it against main's line") {
  Repo repo;
  repo.git("switch -q -c pin");
  spit(repo.work + "/file.txt", "pinned\n");
  repo.git("commit -qam pin");
  repo.git("switch -q main");
  spit(repo.work + "/other.txt", "someone else's\n");
  repo.git("add other.txt");
  repo.git("commit -qm other");
  repo.git("merge -q --no-ff -m 'Merge pull request #1 from o/pin' pin");
  std::string merge = repo.head();
  REQUIRE(!repo.git("rev-parse -q --verify " + merge + "^2").empty());
  auto r = git_revert({{"repo", repo.work}, {"commit", merge}});
  CHECK(r.kind == ActionResult::Kind::Changed);
  CHECK(slurp(repo.work + "/file.txt") == "one\n");
  CHECK(slurp(repo.work + "/other.txt") == "someone else's\n");
  CHECK(git_revert({{"repo", repo.work}, {"commit", merge}}).kind == ActionResult::Kind::Unchanged);
}
