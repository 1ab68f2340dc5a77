// The real v0.17.0 release of cloud-api-adaptor, replayed offline with the unmodified peer pods
// playbook: the real repository (../shared/fixtures/real) at the commit where the release manager
// stood, that release's real inputs, go and gh stood in for (scripts/standins). The test plays
// the reviewers: when the run waits for a pull request to be merged, it checks that the pull
// request's files are byte for byte the maintainers' commit, then "merges" it by pushing the
// maintainers' real commits to github.com's copy (and the other people's commits that landed
// meanwhile), so that the rest of the release runs on the real history. One line per comparison.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

const fs::path kShared = fs::path(SOURCE_DIR) / ".." / "shared" / "fixtures";
const std::string kKata = "github.com/kata-containers/kata-containers/src/runtime";

struct Replay {
  TempDir dir;
  std::string root = dir.path().string();
  std::string repo = root + "/cloud-api-adaptor";
  std::string state = root + "/state";
  std::string playbook = (fs::path(SOURCE_DIR) / "playbooks" / "peerpods-release.yaml").string();
  int comparisons = 0;

  std::string git(const std::string& where, const std::string& args) {
    Result r = shell("git -C " + quote(where) + " " + args);
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  std::string real(const std::string& args) { return git(root + "/real.git", args); }
  std::string ours(const std::string& args) { return git(repo, args); }
  std::string sha(const std::string& short_sha) { return real("rev-parse " + short_sha + "^{commit}"); }
  std::string blob(const std::string& where, const std::string& rev, const std::string& path) {
    return shell("git -C " + quote(where) + " show " + quote(rev + ":" + path)).out;
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
  void same_file(const std::string& what, const std::string& our_rev, const std::string& path, const std::string& real_rev) {
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

  // The reviewer merges the pull request of `branch` as the maintainers did: `commits` (the last
  // one the merge commit GitHub reports) land on main, after `before` and followed by `after`
  // (other people's work). The gh stand-in's record of the pull request says so.
  void merge(const std::string& branch, const std::vector<std::string>& before, const std::string& merged,
             const std::vector<std::string>& after) {
    auto push = [&](const std::string& c) {
      // github.com's copy protects main: only a merge (GH_STANDIN_MERGING=1, as GitHub) reaches it.
      Result r = shell("GH_STANDIN_MERGING=1 git -C " + quote(root + "/real.git") + " push -q " + quote(root + "/remote.git") +
                       " " + sha(c) + ":refs/heads/main");
      REQUIRE_MESSAGE(r.code == 0, r.err);
    };
    for (const auto& c : before) push(c);
    push(merged);
    std::string pr;
    for (const auto& e : fs::directory_iterator(dir / "github" / "pulls"))
      if (slurp(e.path() / "headRefName") == branch) pr = e.path().string();
    REQUIRE_MESSAGE(!pr.empty(), "no pull request for " << branch);
    write(fs::path(pr) / "state", "MERGED");
    write(fs::path(pr) / "mergeCommit", sha(merged));
    write(fs::path(pr) / "mergedAt", "2025-11-24T15:18:50Z");
    for (const auto& c : after) push(c);
  }
};

}  // namespace

TEST_CASE("the real v0.17.0 release, replayed with the unmodified playbook, matches the maintainers' commits") {
  Replay rp;
  const fs::path tarball = kShared / "real" / "cloud-api-adaptor-v0.17.0.git.tar.gz";
  REQUIRE_MESSAGE(fs::exists(tarball), "the fixture " << tarball << " is missing: ../shared must be beside the checkout");
  Result setup = shell("bash " + quote((fs::path(SOURCE_DIR) / "tests" / "real" / "setup-replay.sh").string()) + " " +
                       quote(tarball.string()) + " fdbaf7bf " + quote(rp.root) + " " +
                       quote(kKata + "@3.23.0 v0.0.0-20251117210945-650ada7bcc8e"));
  REQUIRE_MESSAGE(setup.code == 0, setup.err);
  REQUIRE(rp.ours("rev-parse HEAD") == rp.sha("fdbaf7bf"));

  // The release's real inputs (the maintainers' commits and the README of the fixture).
  Result r = rp.rel({"run", rp.playbook, "--yes", "--set", "repo=" + rp.repo, "--set", "version=v0.17.0",
                     "--set", "skip_prerelease=true",
                     "--set", "guest_components_ref=cf937d451d179fd44250a6efbde6536bf4594196",
                     "--set", "kbs_ref=6d1dcfbadad2c67c0972d242156b4d5701a3e4ff",
                     "--set", "kata_agent_ref=3.23.0", "--set", "kata_version=3.23.0",
                     "--set", "operator_ref=v0.17.0",
                     "--set", "caa_image_tag=e205a788d6d3ad619bd8b0896c6a847b05c0f745",
                     "--set", "release_date=2025-11-24"});
  std::vector<std::string> modules = {"cloud-api-adaptor", "cloud-providers", "csi-wrapper", "peerpod-ctrl", "webhook"};
  std::vector<std::string> overlays;
  for (const auto& l : lines(rp.real("ls-tree --name-only 0275f8b0:src/cloud-api-adaptor/install/overlays")))
    overlays.push_back("src/cloud-api-adaptor/install/overlays/" + l + "/kustomization.yaml");
  REQUIRE(overlays.size() == 10);
  const std::string versions = "src/cloud-api-adaptor/versions.yaml";

  std::set<std::string> approved;
  for (int round = 0; round < 12 && r.code == 3; ++round) {
    json st = rp.status();
    for (const auto& s : st["steps"]) {
      if (s["status"] != "waiting") continue;
      std::string id = s["id"];
      if (id == "wait-versions-merged") {
        // upstream-sync: the three pins, one commit; kata-bump: the runtime module, one commit.
        std::string sync = rp.output("commit-upstream-sync", "sha");
        rp.same_file("after upstream-sync", sync, versions, "027cf1eb");
        rp.same_file("after kata-bump", "release-v0.17.0-versions", versions, "050d7baf");
        for (const auto& m : modules) {
          std::string gomod = "src/" + m + "/go.mod";
          auto kata_lines = [&](const std::string& text) {
            std::string out;
            for (const auto& l : lines(text))
              if (l.find(kKata + " ") != std::string::npos) out += l + "\n";
            return out;
          };
          rp.same("after kata-bump: the kata require of " + gomod,
                  kata_lines(rp.blob(rp.repo, "release-v0.17.0-versions", gomod)),
                  kata_lines(rp.blob(rp.root + "/real.git", "050d7baf", gomod)), "050d7baf:" + gomod);
        }
        rp.merge("release-v0.17.0-versions", {}, "050d7baf", {"110211ca", "4f801beb"});
      } else if (id == "wait-operator-merged") {
        rp.same_file("after operator-pin", "release-v0.17.0-operator", versions, "e205a788");
        rp.merge("release-v0.17.0-operator", {}, "e205a788", {});
      } else if (id == "wait-pin-merged") {
        for (const auto& o : overlays) rp.same_file("after cut (the image pin)", "release-v0.17.0-pin", o, "0275f8b0");
        rp.same_file("after cut (the image pin)", "release-v0.17.0-pin", versions, "0275f8b0");
        // The maintainers' pull request also carried the release-process document (10cfaaf7).
        rp.merge("release-v0.17.0-pin", {"10cfaaf7"}, "0275f8b0", {"20619155", "1f1e6fcd"});
      }
      REQUIRE(rp.rel({"approve", st["id"], id, "--note", "replay reviewer"}).code == 0);
      approved.insert(id);
    }
    r = rp.rel({"resume", "--yes"});
  }
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  for (std::string gate : {"wait-versions-merged", "wait-operator-release", "wait-operator-merged", "wait-pin-merged",
                           "retest-release", "unlock-main"})
    CHECK(approved.count(gate) == 1);

  // The release commit is the maintainers' (the merged pin), and all six tags are on it.
  const std::string release = rp.sha("0275f8b0");
  CHECK(rp.output("merged-pin", "sha") == release);
  std::vector<std::string> tags = {"v0.17.0"};
  for (const auto& m : modules) tags.push_back("src/" + m + "/v0.17.0");
  for (const auto& t : tags) {
    ++rp.comparisons;
    std::string at = rp.git(rp.root + "/remote.git", "rev-parse -q --verify " + quote("refs/tags/" + t + "^{commit}"));
    CHECK_MESSAGE(at == release, "tag " << t << " is at '" << at << "', the maintainers tagged " << release);
    if (at == release) MESSAGE("same: tag " << t << " on 0275f8b0");
  }
  std::string all_tags = rp.git(rp.root + "/remote.git", "tag");
  CHECK(lines(all_tags).size() == tags.size());  // no pre-release tags: that release made none
  CHECK(all_tags.find("alpha") == std::string::npos);

  // post-release: the operator pin restored (b3cc5867), the overlay pin reverted (as 88a477fa: the
  // overlays before the pin), CITATION.cff as the maintainers wrote it (5676de12).
  const std::string post = "post-release-v0.17.0";
  rp.same_file("after post-release (operator restored)", post, versions, "b3cc5867");
  for (const auto& o : overlays) rp.same_file("after post-release (pin reverted)", post, o, "10cfaaf7");
  rp.same("after post-release: CITATION.cff", rp.blob(rp.repo, post, "CITATION.cff"),
          slurp(kShared / "cloud-api-adaptor" / "CITATION-v0.17.0.cff"), "5676de12:CITATION.cff (fixture)");
  // Nothing in docs/ carried the version: nothing changed there.
  CHECK(rp.ours("diff --stat " + rp.sha("1f1e6fcd") + " " + post + " -- docs README.md").empty());
  CHECK(rp.git(rp.root + "/remote.git", "rev-parse refs/heads/" + post) == rp.ours("rev-parse " + post));
  MESSAGE(rp.comparisons << " comparisons with the maintainers' v0.17.0 release");

  // go get ran once per module that uses the kata runtime, and only there.
  std::string go_log = slurp(fs::path(rp.root) / "calls" / "go.log");
  CHECK(lines(go_log).size() > 0);
  int gets = 0;
  for (const auto& l : lines(go_log))
    if (l.find(": go get ") != std::string::npos) {
      ++gets;
      CHECK((l.find("/src/cloud-api-adaptor: go get") != std::string::npos ||
             l.find("/src/csi-wrapper: go get") != std::string::npos));
    }
  CHECK(gets == 2);
}
