// The real v0.17.0 release of cloud-api-adaptor, replayed offline with the unmodified peer pods
// playbook: the real repository (../shared/fixtures/real) at the commit where the release manager
// stood, that release's real inputs, go and gh stood in for (scripts/standins). The test plays
// the reviewers: when the run waits for a pull request to be merged, it checks that the pull
// request's files are byte for byte the maintainers' commit, then "merges" it by pushing the
// maintainers' real commits to github.com's copy (and the other people's commits that landed
// meanwhile), so that the rest of the release runs on the real history. One line per comparison.
#include <doctest/doctest.h>

#include "replay.h"

using namespace e2e;
using json = nlohmann::json;

TEST_CASE("the real v0.17.0 release, replayed with the unmodified playbook, matches the maintainers' commits") {
  Replay rp("peerpods-release.yaml");
  rp.setup("cloud-api-adaptor-v0.17.0.git.tar.gz", "fdbaf7bf",
           {kKataRuntime + "@3.23.0 v0.0.0-20251117210945-650ada7bcc8e"});

  // The release's real inputs (the maintainers' commits and the README of the fixture).
  Result r = rp.rel({"run",
                     rp.playbook,
                     "--yes",
                     "--set",
                     "repo=" + rp.repo,
                     "--set",
                     "version=v0.17.0",
                     "--set",
                     "skip_prerelease=true",
                     "--set",
                     "guest_components_ref=cf937d451d179fd44250a6efbde6536bf4594196",
                     "--set",
                     "kbs_ref=6d1dcfbadad2c67c0972d242156b4d5701a3e4ff",
                     "--set",
                     "kata_agent_ref=3.23.0",
                     "--set",
                     "kata_version=3.23.0",
                     "--set",
                     "operator_ref=v0.17.0",
                     "--set",
                     "caa_image_tag=e205a788d6d3ad619bd8b0896c6a847b05c0f745",
                     "--set",
                     "release_date=2025-11-24"});
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
      if (id == "versions-pr-wait") {
        // upstream-sync: the three pins, one commit; kata-bump: the runtime module, one commit.
        std::string sync = rp.output("commit-upstream-sync", "sha");
        rp.same_file("after upstream-sync", sync, versions, "027cf1eb");
        rp.same_file("after kata-bump", "release-v0.17.0-versions", versions, "050d7baf");
        for (const auto& m : modules) {
          std::string gomod = "src/" + m + "/go.mod";
          auto kata_lines = [&](const std::string& text) {
            std::string out;
            for (const auto& l : lines(text))
              if (l.find(kKataRuntime + " ") != std::string::npos) out += l + "\n";
            return out;
          };
          rp.same("after kata-bump: the kata require of " + gomod,
                  kata_lines(rp.blob(rp.repo, "release-v0.17.0-versions", gomod)),
                  kata_lines(rp.blob(rp.root + "/real.git", "050d7baf", gomod)), "050d7baf:" + gomod);
        }
        rp.merge("release-v0.17.0-versions", {}, "050d7baf", {"110211ca", "4f801beb"}, "2025-11-20T09:54:18Z");
      } else if (id == "operator-pr-wait") {
        rp.same_file("after operator-pin", "release-v0.17.0-operator", versions, "e205a788");
        rp.merge("release-v0.17.0-operator", {}, "e205a788", {}, "2025-11-21T14:44:34Z");
      } else if (id == "pin-pr-wait") {
        for (const auto& o : overlays) rp.same_file("after cut (the image pin)", "release-v0.17.0-pin", o, "0275f8b0");
        rp.same_file("after cut (the image pin)", "release-v0.17.0-pin", versions, "0275f8b0");
        // The maintainers' pull request also carried the release-process document (10cfaaf7).
        rp.merge("release-v0.17.0-pin", {"10cfaaf7"}, "0275f8b0", {"20619155", "1f1e6fcd"}, "2025-11-24T15:18:50Z");
      } else if (id == "post-pr-wait") {
        // Compared below; the maintainers' post-release commits (5676de12, 88a477fa) are not all in
        // the fixture: the reviewer merges with GitHub's button.
        rp.merge_with_gh("post-release-v0.17.0", "rebase");
      }
      REQUIRE(rp.rel({"approve", st["id"], id, "--note", "replay reviewer"}).code == 0);
      approved.insert(id);
    }
    r = rp.rel({"resume", "--yes"});
  }
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  for (std::string gate : {"versions-pr-wait", "wait-operator-release", "operator-pr-wait", "pin-pr-wait",
                           "retest-release", "unlock-main", "post-pr-wait"})
    CHECK(approved.count(gate) == 1);

  // The release commit is the maintainers' (the merged pin), and all six tags are on it.
  const std::string release = rp.sha("0275f8b0");
  CHECK(rp.output("pin-pr-merged", "sha") == release);
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
          slurp(kSharedFixtures / "cloud-api-adaptor" / "CITATION-v0.17.0.cff"), "5676de12:CITATION.cff (fixture)");
  // Nothing in docs/ carried the version: nothing changed there.
  CHECK(rp.ours("diff --stat " + rp.sha("1f1e6fcd") + " " + post + " -- docs README.md").empty());
  CHECK(rp.git(rp.root + "/remote.git", "rev-parse refs/heads/" + post) == rp.ours("rev-parse " + post));
  CHECK(rp.remote("rev-parse refs/heads/main") ==
        rp.ours("rev-parse main"));  // local main followed the post-release merge
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
