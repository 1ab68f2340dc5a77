// The Helm peer pods release (playbooks/peerpods-release-helm.yaml) on the Helm sandbox
// (scripts/sandbox --helm: the tree before v0.22.0, main protected, go, gh and helm stood in
// for), through the real binary, as scripts/demo --helm runs it: paused at the first gate,
// finished with --auto-approve; every tag pushed once, naming the merged cut; the post-release
// reverts on main; a second run of the same version refused by the preflight with nothing changed.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

const std::string kCaa = "61b1aba91df646a663e60ab6b55c6a7dc93cd167";
const std::string kChart = "src/cloud-api-adaptor/install/charts/peerpods";

struct HelmRelease {
  TempDir dir;
  std::string sandbox = (dir / "sandbox").string();
  std::string state = (dir / "state").string();
  std::string repo = sandbox + "/cloud-api-adaptor";
  std::string remote = sandbox + "/remote.git";
  std::string playbook = (fs::path(SOURCE_DIR) / "playbooks" / "peerpods-release-helm.yaml").string();

  HelmRelease() {
    Result r =
        shell("bash " + quote((fs::path(SOURCE_DIR) / "scripts" / "sandbox").string()) + " --helm " + quote(sandbox));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    write(fs::path(remote) / "hooks" / "post-receive",
          "#!/bin/sh\nwhile read old new ref; do echo \"$ref $new\" >> ../received.log; done\n");
    shell("chmod +x " + quote(remote + "/hooks/post-receive"));
  }
  Result rel(std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir", state});
    return relengine(args, dir.path().string(),
                     "PATH=" + sandbox + "/bin:$PATH GITHUB_TOKEN=ghp_HelmSandbox0123456789");
  }
  std::vector<std::string> run_args() const {
    return {"run",
            playbook,
            "--yes",
            "--set",
            "repo=" + repo,
            "--set",
            "version=v0.22.0",
            "--set",
            "guest_components_ref=dcd55ea16ea4f4bcb87c1420f16af92e9eb15f2f",
            "--set",
            "kbs_ref=258ea4acb7b9bd865fce5c63a539f2120dba8298",
            "--set",
            "kata_agent_ref=cf82bb35c80320178bf7570252fe75d6fb263209",
            "--set",
            "kata_version=4.0.0",
            "--set",
            "caa_image_tag=" + kCaa};
  }
  std::string remote_git(const std::string& args) {
    std::string out = shell("git -C " + quote(remote) + " " + args).out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  std::string show(const std::string& rev, const std::string& path) {
    return shell("git -C " + quote(remote) + " show " + quote(rev + ":" + path)).out;
  }
};

}  // namespace

TEST_CASE(
    "the Helm release on the Helm sandbox: paused at the first gate, finished, every tag once, the reverts on main") {
  HelmRelease rel;
  const std::string base = rel.remote_git("rev-parse main");
  Result r = rel.rel(rel.run_args());
  REQUIRE_MESSAGE(r.code == 3, r.out << r.err);  // the first gate: the versions pull request merged
  CHECK(r.out.find("versions-pr-wait") != std::string::npos);
  CHECK(rel.remote_git("tag").empty());  // nothing tagged before the cut
  r = rel.rel({"resume", "--auto-approve", "--yes"});
  REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
  CHECK(r.out.find("ghp_HelmSandbox") == std::string::npos);

  // The tags: the release and one per Go module found (csi-wrapper is gone from this tree), all
  // naming the cut as merged (its last commit: the charts' versions); the module tags pushed once
  // each, the release tag made once by the GitHub release (gh release create --target), as on GitHub.
  std::set<std::string> tags;
  for (const auto& t : lines(rel.remote_git("tag"))) tags.insert(t);
  CHECK(tags == std::set<std::string>{"v0.22.0", "src/cloud-api-adaptor/v0.22.0", "src/cloud-providers/v0.22.0",
                                      "src/peerpod-ctrl/v0.22.0", "src/webhook/v0.22.0"});
  std::string cut = rel.remote_git("rev-parse v0.22.0^{commit}");
  CHECK(rel.remote_git("log -1 --format=%s " + cut) == "release: Update the charts versions to 0.4.0 for v0.22.0");
  for (const auto& t : tags) CHECK(rel.remote_git("rev-parse " + t + "^{commit}") == cut);
  std::map<std::string, int> pushed;
  for (const auto& l : lines(slurp(rel.sandbox + "/received.log")))
    if (l.rfind("refs/tags/", 0) == 0) ++pushed[l.substr(0, l.find(' '))];
  for (const auto& t : tags) CHECK_MESSAGE(pushed["refs/tags/" + t] == (t == "v0.22.0" ? 0 : 1), t);
  int releases = 0;
  for (const auto& l : lines(slurp(rel.sandbox + "/calls/gh.log")))
    if (l.rfind("gh release create v0.22.0 ", 0) == 0) {
      ++releases;
      CHECK(l.find("--target " + cut) != std::string::npos);
    }
  CHECK(releases == 1);

  // At the tag: the image pinned (libvirt's -dev), the charts at 0.4.0, kata-deploy at 4.0.0.
  CHECK(rel.show(cut, kChart + "/values.yaml").find("tag: \"" + kCaa + "\"") != std::string::npos);
  CHECK(rel.show(cut, kChart + "/providers/libvirt.yaml").find("tag: \"" + kCaa + "-dev\"") != std::string::npos);
  std::string chart = rel.show(cut, kChart + "/Chart.yaml");
  CHECK(chart.find("version: 0.4.0\nappVersion: \"v0.22.0\"") != std::string::npos);
  CHECK(chart.find("version: \"4.0.0\"") != std::string::npos);
  CHECK_FALSE(rel.show(cut, kChart + "/Chart.lock").empty());

  // After the release, on main: the pins reverted, kata-deploy back to 0.0.0-dev without a lock,
  // CITATION.cff naming the release and the tagged commit.
  CHECK(rel.show("main", kChart + "/values.yaml") == rel.show(base, kChart + "/values.yaml"));
  CHECK(rel.show("main", kChart + "/providers/libvirt.yaml") == rel.show(base, kChart + "/providers/libvirt.yaml"));
  CHECK(rel.show("main", kChart + "/Chart.yaml").find("version: \"0.0.0-dev\"") != std::string::npos);
  CHECK(rel.remote_git("cat-file -e main:" + kChart + "/Chart.lock; echo $?") != "0");
  std::string citation = rel.show("main", "CITATION.cff");
  CHECK(citation.find("version: 0.22.0\n") != std::string::npos);
  CHECK(citation.find("commit: " + cut + "\n") != std::string::npos);

  // The same version again: the preflight refuses (the tags exist) and nothing moves.
  std::string refs = rel.remote_git("for-each-ref");
  fs::remove_all(rel.state);
  r = rel.rel(rel.run_args());
  CHECK(r.code == 1);
  CHECK(r.out.find("tag v0.22.0 exists on upstream") != std::string::npos);
  CHECK(rel.remote_git("for-each-ref") == refs);
}
