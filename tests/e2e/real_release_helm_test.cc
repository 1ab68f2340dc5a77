// The real v0.22.0 release of cloud-api-adaptor (the process with Helm charts), replayed offline
// with the unmodified Helm playbook: the real repository (../shared/fixtures/real) at the
// commit where the release manager stood (65e2e946), that release's real inputs (taken from the
// maintainers' commits), go, gh and helm stood in for (scripts/standins), github.com's main
// protected. The test plays the reviewers: when the run waits for a pull request to be merged,
// it compares the pull request's files with the maintainers' commits, then merges it by pushing
// the maintainers' real commits (and the others' that landed meanwhile), so that the rest of the
// release runs on the real history. One line per comparison; a difference shows the diff.
#include <doctest/doctest.h>

#include "replay.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

const std::string kChart = "src/cloud-api-adaptor/install/charts/peerpods";
const std::string kVersions = "src/cloud-api-adaptor/versions.yaml";
// The files the Helm pins live in, as the maintainers' pin commit 60e2f0da changed them.
const std::vector<std::string> kPinned = {kChart + "/providers/libvirt.yaml", kChart + "/values.yaml",
                                          "src/cloud-providers/Makefile", "src/peerpod-ctrl/chart/values.yaml",
                                          "src/webhook/chart/values.yaml"};
const std::vector<std::string> kCharts = {kChart + "/Chart.yaml", "src/peerpod-ctrl/chart/Chart.yaml",
                                          "src/webhook/chart/Chart.yaml"};

// A Chart.lock without its `generated:` line (the time helm ran); its digest stays compared.
std::string without_generated(const std::string& lock) {
  std::string out;
  for (const auto& l : lines(lock))
    if (l.rfind("generated:", 0) != 0) out += l + "\n";
  return out;
}

}  // namespace

TEST_CASE("the real v0.22.0 release, replayed with the unmodified Helm playbook, matches the maintainers' commits") {
  Replay rp("peerpods-release-helm.yaml");
  rp.setup("cloud-api-adaptor-v0.22.0.git.tar.gz", "65e2e946",
           {kKataRuntime + "@4.0.0 v0.0.0-20260720141120-cf82bb35c803",
            "oci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy 4.0.0"});
  const fs::path fixtures = fs::path(SOURCE_DIR) / "tests" / "real" / "v0.22.0";

  // github.com's main is protected: a direct push is refused (only pull requests merge).
  Result direct = shell("cd " + quote(rp.repo) +
                        " && git commit -q --allow-empty -m direct && git push -q upstream HEAD:main; rc=$?; git reset "
                        "-q --hard HEAD~1; exit $rc");
  CHECK(direct.code != 0);
  CHECK(direct.err.find("GH006: Protected branch update failed for refs/heads/main.") != std::string::npos);
  CHECK(rp.remote("rev-parse main") == rp.sha("65e2e946"));
  std::string refusal = lines(direct.err).empty() ? "" : lines(direct.err).front();
  refusal.erase(refusal.find_last_not_of(' ') + 1);  // git pads the remote's lines
  MESSAGE("protected: a direct push to main is refused (" << refusal << ")");

  // The release's real inputs: the pins of 06eb0fcc (the kata agent annotated "# v4.0.0"), kata
  // 4.0.0 (523ae7f3, 6a8a61a9), the image of the merged bumps (60e2f0da pins 61b1aba9), the day
  // of b6c00988; the chart version is derived (0.3.1 -> 0.4.0, as 60be2d48).
  Result r = rp.rel({"run", rp.playbook, "--yes", "--set", "repo=" + rp.repo, "--set", "version=v0.22.0", "--set",
                     "guest_components_ref=dcd55ea16ea4f4bcb87c1420f16af92e9eb15f2f", "--set",
                     "kbs_ref=258ea4acb7b9bd865fce5c63a539f2120dba8298", "--set",
                     "kata_agent_ref=cf82bb35c80320178bf7570252fe75d6fb263209", "--set", "kata_version=4.0.0", "--set",
                     "caa_image_tag=61b1aba91df646a663e60ab6b55c6a7dc93cd167", "--set", "release_date=2026-07-27"});
  const std::string base = rp.sha("65e2e946");
  std::set<std::string> approved;
  for (int round = 0; round < 12 && r.code == 3; ++round) {
    json st = rp.status();
    for (const auto& s : st["steps"]) {
      if (s["status"] != "waiting") continue;
      std::string id = s["id"];
      if (id == "versions-pr-wait") {
        // upstream-sync: the three pins (06eb0fcc); kata-bump: the runtime module (523ae7f3: the
        // one require line changed, so all of go.mod compares) and kata-deploy with its lock (6a8a61a9).
        const std::string branch = "release-v0.22.0-versions";
        rp.same_file("after upstream-sync", rp.output("commit-upstream-sync", "sha"), kVersions, "06eb0fcc");
        rp.same_file("after kata-bump", branch, kVersions, "06eb0fcc");
        rp.same_file("after kata-bump", branch, "src/cloud-api-adaptor/go.mod", "523ae7f3");
        rp.same_file("after kata-bump", branch, kChart + "/Chart.yaml", "6a8a61a9");
        rp.same("after kata-bump: " + kChart + "/Chart.lock (all but generated)",
                without_generated(rp.blob(rp.repo, branch, kChart + "/Chart.lock")),
                without_generated(rp.blob(rp.root + "/real.git", "6a8a61a9", kChart + "/Chart.lock")),
                "6a8a61a9:" + kChart + "/Chart.lock");
        rp.same("the versions pull request changes the files the maintainers changed",
                rp.changed(rp.repo, base, branch), rp.changed(rp.root + "/real.git", base, "6a8a61a9"),
                "65e2e946..6a8a61a9 (06eb0fcc, 523ae7f3, 6a8a61a9)");
        // The maintainers' pull request also carried a doc fix and two test commits (rebased
        // together: one committer time); GitHub names its last commit.
        rp.merge(branch, {"06eb0fcc", "523ae7f3", "6a8a61a9", "1259faeb", "d0d5bab6"}, "61b1aba9", {},
                 "2026-07-25T17:05:16Z");
      } else if (id == "cut-pr-wait") {
        // The image pin (60e2f0da) and the charts' versions (60be2d48), one pull request.
        const std::string branch = "release-v0.22.0-cut";
        for (const auto& f : kPinned) rp.same_file("after cut (the image pin)", branch, f, "60be2d48");
        for (const auto& f : kCharts) rp.same_file("after cut (the charts' versions)", branch, f, "60be2d48");
        rp.same("after cut: " + kChart + "/Chart.lock (all but generated)",
                without_generated(rp.blob(rp.repo, branch, kChart + "/Chart.lock")),
                without_generated(rp.blob(rp.root + "/real.git", "60be2d48", kChart + "/Chart.lock")),
                "60be2d48:" + kChart + "/Chart.lock");
        rp.same("the cut pull request changes the files the maintainers changed",
                rp.changed(rp.repo, rp.sha("61b1aba9"), branch),
                rp.changed(rp.root + "/real.git", "4da058ce", "60be2d48"), "4da058ce..60be2d48 (60e2f0da, 60be2d48)");
        // The maintainers' pull request began with the helper's update (4da058ce, the process
        // change of this release) and ended with a sync of the provider values (38d0fcf7), the
        // commit GitHub names and every tag names. Others' work landed after it.
        rp.merge(branch, {"4da058ce", "60e2f0da", "60be2d48"}, "38d0fcf7",
                 {"b813773b", "f7643fc2", "93da3fb6", "289bea7c", "c83c3cf4", "987eb8e1"}, "2026-07-27T12:31:54Z");
      } else if (id == "post-pr-wait") {
        // post-release: the image pin reverted (800a13fe), kata-deploy back to 0.0.0-dev with
        // Chart.lock removed (cd841dbc), CITATION.cff (b6c00988). The last two are after the
        // fixture's range: their files are in tests/real/v0.22.0 (from the upstream commits).
        const std::string branch = "post-release-v0.22.0";
        for (const auto& f : kPinned) rp.same_file("after post-release (pin reverted)", branch, f, "800a13fe");
        rp.same("after post-release (kata-deploy unpinned): " + kChart + "/Chart.yaml",
                rp.blob(rp.repo, branch, kChart + "/Chart.yaml"), slurp(fixtures / "peerpods-Chart.yaml"),
                "cd841dbc:" + kChart + "/Chart.yaml (tests/real/v0.22.0)");
        ++rp.comparisons;
        CHECK_MESSAGE(!rp.exists(rp.repo, branch, kChart + "/Chart.lock"), "Chart.lock is still there");
        if (!rp.exists(rp.repo, branch, kChart + "/Chart.lock"))
          MESSAGE("same: after post-release: no Chart.lock, as cd841dbc");
        rp.same("after post-release: CITATION.cff", rp.blob(rp.repo, branch, "CITATION.cff"),
                slurp(fixtures / "CITATION.cff"), "b6c00988:CITATION.cff (tests/real/v0.22.0)");
        std::string theirs = rp.changed(rp.root + "/real.git", "987eb8e1", "800a13fe");
        std::set<std::string> files;
        for (const auto& l : lines(theirs)) files.insert(l);
        files.insert({kChart + "/Chart.lock", kChart + "/Chart.yaml", "CITATION.cff"});  // cd841dbc, b6c00988
        theirs.clear();
        for (const auto& f : files) theirs += f + "\n";
        rp.same("the post-release pull request changes the files the maintainers changed",
                rp.changed(rp.repo, rp.sha("987eb8e1"), branch), theirs,
                "987eb8e1..b6c00988 (800a13fe, cd841dbc, b6c00988)");
        rp.merge_with_gh(branch, "rebase");  // cd841dbc and b6c00988 are not in the fixture
      }
      REQUIRE(rp.rel({"approve", st["id"], id, "--note", "replay reviewer"}).code == 0);
      approved.insert(id);
    }
    r = rp.rel({"resume", "--yes"});
  }
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  for (std::string gate :
       {"versions-pr-wait", "lock-main", "cut-pr-wait", "retest-release", "unlock-main", "post-pr-wait"})
    CHECK_MESSAGE(approved.count(gate) == 1, gate);

  // The release commit is the maintainers' (the merged cut), every tag is on it, and no other tag exists.
  const std::string release = rp.sha("38d0fcf7");
  CHECK(rp.output("cut-pr-merged", "sha") == release);
  std::vector<std::string> tags = {"v0.22.0"};
  for (std::string m : {"cloud-api-adaptor", "cloud-providers", "peerpod-ctrl", "webhook"})
    tags.push_back("src/" + m + "/v0.22.0");
  for (const auto& t : tags) {
    ++rp.comparisons;
    std::string at = rp.remote("rev-parse -q --verify " + quote("refs/tags/" + t + "^{commit}"));
    CHECK_MESSAGE(at == release, "tag " << t << " is at '" << at << "', the maintainers tagged " << release);
    if (at == release) MESSAGE("same: tag " << t << " on 38d0fcf7");
  }
  ++rp.comparisons;
  CHECK(lines(rp.remote("tag")).size() == tags.size());  // csi-wrapper is gone: no src/csi-wrapper tag
  if (lines(rp.remote("tag")).size() == tags.size())
    MESSAGE("same: the tags are these " << tags.size() << " and no other");
  CHECK(rp.remote("rev-parse refs/heads/main") ==
        rp.ours("rev-parse main"));  // local main followed the post-release merge
  MESSAGE(rp.comparisons << " comparisons with the maintainers' v0.22.0 release");

  // go get ran once, in the one module that uses the kata runtime; helm twice, on the peerpods chart.
  int gets = 0;
  for (const auto& l : lines(slurp(fs::path(rp.root) / "calls" / "go.log")))
    if (l.find(": go get ") != std::string::npos) {
      ++gets;
      CHECK(l.find("/src/cloud-api-adaptor: go get " + kKataRuntime + "@4.0.0") != std::string::npos);
    }
  CHECK(gets == 1);
  std::vector<std::string> helm = lines(slurp(fs::path(rp.root) / "calls" / "helm.log"));
  int updates = 0;
  for (const auto& l : helm)
    if (l.find("helm dependency update " + kChart) != std::string::npos) ++updates;
  CHECK(updates == 2);
}
