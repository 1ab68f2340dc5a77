// A replay of a real cloud-api-adaptor release (tests/real/setup-replay.sh): the real repository
// of ../shared/fixtures/real, github.com's copy with a protected main, the release manager's
// clone and the stand-ins; the test plays the reviewers. Used by real_release_test.cc (v0.17.0,
// the first playbook) and real_release_helm_test.cc (v0.22.0, the Helm playbook).
#pragma once

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "run.h"

namespace e2e {

inline const fs::path kSharedFixtures = fs::path(SOURCE_DIR) / ".." / "shared" / "fixtures";
inline const std::string kKataRuntime = "github.com/kata-containers/kata-containers/src/runtime";

struct Replay {
  using json = nlohmann::json;

  TempDir dir;
  std::string root = dir.path().string();
  std::string repo = root + "/cloud-api-adaptor";
  std::string state = root + "/state";
  std::string playbook;
  int comparisons = 0;

  explicit Replay(const std::string& playbook_file)
      : playbook((fs::path(SOURCE_DIR) / "playbooks" / playbook_file).string()) {}

  // Unpacks the fixture and sets the replay up with main at `base`; `lines` are the go proxy's
  // and the helm registry's lines (setup-replay.sh).
  void setup(const std::string& tarball_name, const std::string& base, const std::vector<std::string>& lines) {
    const fs::path tarball = kSharedFixtures / "real" / tarball_name;
    REQUIRE_MESSAGE(fs::exists(tarball),
                    "the fixture " << tarball << " is missing: ../shared must be beside the checkout");
    std::string cmd = "bash " + quote((fs::path(SOURCE_DIR) / "tests" / "real" / "setup-replay.sh").string()) + " " +
                      quote(tarball.string()) + " " + base + " " + quote(root);
    for (const auto& l : lines) cmd += " " + quote(l);
    Result r = shell(cmd);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    REQUIRE(ours("rev-parse HEAD") == sha(base));
  }

  std::string git(const std::string& where, const std::string& args) {
    Result r = shell("git -C " + quote(where) + " " + args);
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  std::string real(const std::string& args) { return git(root + "/real.git", args); }
  std::string ours(const std::string& args) { return git(repo, args); }
  std::string remote(const std::string& args) { return git(root + "/remote.git", args); }
  std::string sha(const std::string& short_sha) { return real("rev-parse " + short_sha + "^{commit}"); }
  std::string blob(const std::string& where, const std::string& rev, const std::string& path) {
    return shell("git -C " + quote(where) + " show " + quote(rev + ":" + path)).out;
  }
  bool exists(const std::string& where, const std::string& rev, const std::string& path) {
    return shell("git -C " + quote(where) + " cat-file -e " + quote(rev + ":" + path)).code == 0;
  }
  // The files a range of commits changed, sorted, one a line.
  std::string changed(const std::string& where, const std::string& from, const std::string& to) {
    return git(where, "diff --name-only " + from + " " + to) + "\n";
  }

  // One line per comparison; a difference fails the test with the file's name and the diff.
  void same(const std::string& what, const std::string& ours_text, const std::string& theirs_text,
            const std::string& theirs_name) {
    ++comparisons;
    if (ours_text == theirs_text) {
      MESSAGE("same: " << what << " == " << theirs_name);
      return;
    }
    write(dir / "diff" / "ours", ours_text);
    write(dir / "diff" / "theirs", theirs_text);
    std::string diff = shell("diff -u --label " + quote(theirs_name) + " --label ours " +
                             quote((dir / "diff" / "theirs").string()) + " " + quote((dir / "diff" / "ours").string()))
                           .out;
    FAIL_CHECK("differs: " << what << " vs " << theirs_name << "\n" << diff);
  }
  void same_file(const std::string& what, const std::string& our_rev, const std::string& path,
                 const std::string& real_rev) {
    same(what + ": " + path, blob(repo, our_rev, path), blob(root + "/real.git", real_rev, path),
         real_rev.substr(0, 8) + ":" + path);
  }

  Result rel(std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir", state});
    return relengine(args, root, "PATH=" + root + "/bin:$PATH GITHUB_TOKEN=ghp_replay_token_0123456789");
  }
  json status() { return json::parse(rel({"status", "--json"}).out); }
  json output(const std::string& step, const std::string& key) {
    json all = status();  // kept: a range over a temporary's member would dangle
    for (const auto& s : all["steps"])
      if (s["id"] == step) return s["outputs"].contains(key) ? s["outputs"][key] : json();
    return json();
  }

  // The gh stand-in's record of the pull request of `branch`.
  fs::path pull(const std::string& branch) {
    fs::path pr;
    for (const auto& e : fs::directory_iterator(dir / "github" / "pulls"))
      if (slurp(e.path() / "headRefName") == branch) pr = e.path();
    REQUIRE_MESSAGE(!pr.empty(), "no pull request for " << branch);
    return pr;
  }
  // A push to github.com's copy as GitHub makes it when it merges a pull request: its main is
  // protected (scripts/standins/protect-main), only merges (GH_STANDIN_MERGING=1) reach it.
  void land(const std::string& commit) {
    Result r = shell("GH_STANDIN_MERGING=1 git -C " + quote(root + "/real.git") + " push -q " +
                     quote(root + "/remote.git") + " " + sha(commit) + ":refs/heads/main");
    REQUIRE_MESSAGE(r.code == 0, r.err);
  }
  // The reviewer merges the pull request of `branch` as the maintainers did: `commits` (the last
  // one the merge commit GitHub reports) land on main, after `before` and followed by `after`
  // (other people's work). The gh stand-in's record of the pull request says so.
  void merge(const std::string& branch, const std::vector<std::string>& before, const std::string& merged,
             const std::vector<std::string>& after, const std::string& merged_at) {
    for (const auto& c : before) land(c);
    land(merged);
    fs::path pr = pull(branch);
    write(pr / "state", "MERGED");
    write(pr / "mergeCommit", sha(merged));
    write(pr / "mergedAt", merged_at);
    for (const auto& c : after) land(c);
  }
  // The reviewer merges with GitHub's button (the gh stand-in's merge, through the protection).
  void merge_with_gh(const std::string& branch, const std::string& method) {
    Result r = shell("cd " + quote(repo) + " && PATH=" + quote(root + "/bin") +
                     ":$PATH GITHUB_TOKEN=ghp_replay_token_0123456789 gh pr merge " + quote(branch) + " --" + method +
                     " -R confidential-containers/cloud-api-adaptor");
    REQUIRE_MESSAGE(r.code == 0, r.err);
  }
};

}  // namespace e2e
