// The peer pods release on the local sandbox (scripts/sandbox: its gh stand-in merges pull
// requests as they are opened), through the real binary: the whole release with gates approved
// by `approve` + `resume` and a failure injected in the pre-release phase; a repeated pre-release
// (`--rerun-phase pre-release --set alpha=2`); the preflight reporting every problem at once.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

const std::vector<std::string> kModules = {"cloud-api-adaptor", "cloud-providers", "csi-wrapper", "peerpod-ctrl",
                                           "webhook"};
const std::string kCaa = "a5f492482236b9fc4a77088efe6b4c2159ae6a03";
const std::string kSecret = "ghp_SandboxSecret0123456789";

struct Release {
  TempDir dir;
  std::string sandbox = (dir / "sandbox").string();
  std::string state = (dir / "state").string();
  std::string repo = sandbox + "/cloud-api-adaptor";
  std::string remote = sandbox + "/remote.git";
  std::string playbook = (fs::path(SOURCE_DIR) / "playbooks" / "peerpods-release.yaml").string();

  Release() {
    Result r = shell("bash " + quote((fs::path(SOURCE_DIR) / "scripts" / "sandbox").string()) + " " + quote(sandbox));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    // The remote logs every ref it accepts, to prove each tag is pushed once.
    write(fs::path(remote) / "hooks" / "post-receive",
          "#!/bin/sh\nwhile read old new ref; do echo \"$ref $new\" >> ../received.log; done\n");
    shell("chmod +x " + quote(remote + "/hooks/post-receive"));
  }
  std::vector<std::string> inputs() const {
    return {"--set", "repo=" + repo,
            "--set", "version=v0.18.0",
            "--set", "guest_components_ref=5574c4945a5ba4523c7b3a5ff1c53ace58d12b77",
            "--set", "kbs_ref=258ea4acb7b9bd865fce5c63a539f2120dba8298",
            "--set", "kata_agent_ref=17472f3f10c83a8626ea2bde8c4d4868f6ee95b4",
            "--set", "kata_version=3.25.0",
            "--set", "operator_ref=v0.18.0",
            "--set", "caa_image_tag=" + kCaa};
  }
  std::string token = kSecret;
  std::string merge_style = "rebase";  // how the sandbox's github merges a pull request ("": never by itself)
  Result rel(std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir", state});
    return relengine(args, dir.path().string(),
                     "PATH=" + sandbox + "/bin:$PATH GITHUB_TOKEN=" + token + " GH_STANDIN_AUTOMERGE=" + merge_style);
  }
  std::vector<std::string> run_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"run", playbook};
    auto in = inputs();
    args.insert(args.end(), in.begin(), in.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  // The pull request of a head branch, as the gh stand-in keeps it (scripts/standins/gh).
  fs::path pull(const std::string& head) {
    for (const auto& e : fs::directory_iterator(fs::path(sandbox) / "github" / "pulls"))
      if (slurp(e.path() / "headRefName") == head) return e.path();
    return {};
  }
  // Someone else's commit lands on the remote's main (their pull request merged: main is
  // protected, only merges, GH_STANDIN_MERGING=1, reach it).
  void someone_pushes(const std::string& file) {
    std::string tmp = (dir / ("other-" + file)).string();
    Result r = shell("git clone -q " + quote(remote) + " " + quote(tmp) + " && cd " + quote(tmp) + " && echo x > " +
                     quote(file) +
                     " && git add -A && git -c user.name=Other -c user.email=o@x.invalid"
                     " commit -qm " +
                     quote("unrelated: " + file) + " && GH_STANDIN_MERGING=1 git push -q origin HEAD:main");
    REQUIRE_MESSAGE(r.code == 0, r.err);
  }
  json status() { return json::parse(rel({"status", "--json"}).out); }
  std::string git(const std::string& args) {
    std::string out = shell("git -C " + quote(repo) + " " + args).out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  std::string remote_git(const std::string& args) {
    std::string out = shell("git -C " + quote(remote) + " " + args).out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  int count(const std::string& file, const std::string& needle) {
    int n = 0;
    for (const auto& l : lines(slurp(fs::path(sandbox) / file)))
      if (l.find(needle) != std::string::npos) ++n;
    return n;
  }
};

}  // namespace

TEST_CASE("the whole peer pods release on the sandbox: gates via approve + resume, a failure and a resume") {
  Release rel;
  write(fs::path(rel.sandbox) / "github" / "fail-release-create-once", "");
  std::vector<std::string> args = {"run", rel.playbook};
  auto in = rel.inputs();
  args.insert(args.end(), in.begin(), in.end());
  Result r = rel.rel(args);
  REQUIRE(r.code == 3);
  CHECK(r.out.find("approve") != std::string::npos);
  CHECK(rel.status()["steps"][0]["status"] == "succeeded");
  bool saw_failure = false;
  std::vector<std::string> approved;
  for (int round = 0; round < 20; ++round) {
    json st = rel.status();
    if (st["status"] == "succeeded") break;
    if (st["status"] == "failed") {
      for (const auto& s : st["steps"])
        if (s["status"] == "failed") CHECK(s["id"] == "prerelease-github");
      saw_failure = true;
    }
    for (const auto& s : st["steps"])
      if (s["status"] == "waiting") {
        REQUIRE(rel.rel({"approve", st["id"], s["id"], "--note", "checked in the test"}).code == 0);
        approved.push_back(s["id"]);
      }
    r = rel.rel({"resume", "--yes"});
    CAPTURE(r.out);
    CHECK((r.code == 0 || r.code == 1 || r.code == 3));
  }
  json st = rel.status();
  REQUIRE(st["status"] == "succeeded");
  CHECK(saw_failure);
  for (std::string gate : {"versions-pr-wait", "wait-operator-release", "operator-pr-wait", "lock-main",
                           "test-prerelease", "pin-pr-wait", "retest-release", "unlock-main", "post-pr-wait"})
    CHECK(std::find(approved.begin(), approved.end(), gate) != approved.end());
  for (const auto& s : st["steps"]) {
    CAPTURE(s["id"]);
    if (s["id"] != "prerelease-github") CHECK(s["attempts"].get<int>() <= 1);  // nothing was repeated
  }

  // The go stand-in: each go get exactly once, for the two modules that use the kata runtime.
  CHECK(rel.count("calls/go.log", "go get ") == 2);
  CHECK(rel.count("calls/go.log",
                  "src/cloud-api-adaptor: go get github.com/kata-containers/kata-containers/src/runtime@3.25.0") == 1);
  CHECK(rel.count("calls/go.log",
                  "src/csi-wrapper: go get github.com/kata-containers/kata-containers/src/runtime@3.25.0") == 1);
  CHECK(rel.count("calls/gh.log", "gh release create v0.18.0-alpha.1 ") == 2);  // the injected failure, then once
  CHECK(rel.count("calls/gh.log", "gh release create v0.18.0 ") == 1);
  CHECK(rel.count("calls/gh.log", "gh pr create ") == 4);  // versions, operator, pin, post-release

  // Tags: each module at the pre-release and the release, each pushed once, on the right commits:
  // the pre-release on main with the operator pin, the release on the merged image pin.
  std::string pushed_bumps = rel.remote_git("rev-parse src/cloud-api-adaptor/v0.18.0-alpha.1^{commit}");
  std::string pin = rel.remote_git("log --format=%H --grep='^release: pin CAA image for v0.18.0$' main");
  REQUIRE(!pin.empty());
  CHECK(lines(pin).size() == 1);
  for (const auto& m : kModules) {
    CAPTURE(m);
    CHECK(rel.remote_git("rev-parse src/" + m + "/v0.18.0-alpha.1^{commit}") == pushed_bumps);
    CHECK(rel.remote_git("rev-parse src/" + m + "/v0.18.0^{commit}") == pin);
    CHECK(rel.count("received.log", "refs/tags/src/" + m + "/v0.18.0-alpha.1 ") == 1);
    CHECK(rel.count("received.log", "refs/tags/src/" + m + "/v0.18.0 ") == 1);
  }
  CHECK(rel.remote_git("rev-parse v0.18.0^{commit}") == pin);  // made by gh release create
  CHECK(rel.remote_git("rev-parse v0.18.0-alpha.1^{commit}") == pushed_bumps);
  CHECK(rel.git("log -1 --format=%s " + pushed_bumps) == "versions: Pin operator version");

  // versions.yaml at the end (post-release branch): new pins, the kata agent's comment naming the
  // kata release, the operator back to main/default, every other comment of the original there.
  std::string versions = rel.git("show post-release-v0.18.0:src/cloud-api-adaptor/versions.yaml") + "\n";
  CHECK(versions.find("    reference: 5574c4945a5ba4523c7b3a5ff1c53ace58d12b77\n") != std::string::npos);
  CHECK(versions.find("    reference: 258ea4acb7b9bd865fce5c63a539f2120dba8298\n") != std::string::npos);
  CHECK(versions.find("    reference: 17472f3f10c83a8626ea2bde8c4d4868f6ee95b4 # v3.25.0\n") != std::string::npos);
  CHECK(versions.find("kata-containers:\n    url:") == std::string::npos);  // no git.kata-containers
  CHECK(versions.find("  coco-operator:\n    url: https://github.com/confidential-containers/operator\n    config: "
                      "default\n    reference: main\n") != std::string::npos);
  CHECK(versions.find("    tag: \"3.9\"\n") != std::string::npos);
  std::string first = rel.git("rev-list --max-parents=0 main");
  std::string initial = rel.git("show " + first + ":src/cloud-api-adaptor/versions.yaml");
  for (const auto& l : lines(initial))
    if (l.find('#') != std::string::npos && l.find("reference:") == std::string::npos) {
      CAPTURE(l);
      CHECK(versions.find(l.substr(l.find('#'))) != std::string::npos);
    }
  // The operator pin happened at release time.
  std::string pinned = rel.git("show " + pushed_bumps + ":src/cloud-api-adaptor/versions.yaml");
  CHECK(pinned.find("    config: release\n    reference: v0.18.0\n") != std::string::npos);

  // Overlays: pinned in the history (dev- for libvirt and docker, alibabacloud untouched, gcp's
  // local copy of the image pinned too), reverted at the end.
  auto overlay = [&](const std::string& rev, const std::string& name) {
    return rel.git("show " + rev + ":src/cloud-api-adaptor/install/overlays/" + name + "/kustomization.yaml");
  };
  for (std::string o : {"aws", "azure", "byom", "gcp", "ibmcloud", "ibmcloud-powervs", "vsphere"}) {
    CAPTURE(o);
    CHECK(overlay(pin, o).find("  newTag: " + kCaa + "\n") != std::string::npos);
    CHECK(overlay(pin, o).find(" # change image if needed\n") != std::string::npos);
  }
  CHECK(overlay(pin, "docker").find("    newTag: dev-" + kCaa + "\n") != std::string::npos);
  CHECK(overlay(pin, "libvirt").find("  newTag: dev-" + kCaa + "\n") != std::string::npos);
  CHECK(overlay(pin, "alibabacloud") == overlay(first, "alibabacloud"));
  CHECK(overlay("post-release-v0.18.0", "aws").find("  newTag: latest\n") != std::string::npos);
  CHECK(rel.git("log --format=%s post-release-v0.18.0").find("Revert \"release: pin CAA image for v0.18.0\"") !=
        std::string::npos);

  // CITATION.cff and docs.
  std::string citation = rel.git("show post-release-v0.18.0:CITATION.cff") + "\n";
  CHECK(citation.find("\nversion: 0.18.0\n") != std::string::npos);
  CHECK(citation.find("\ncommit: " + pin + "\n") != std::string::npos);
  CHECK(std::regex_search(citation, std::regex("\ndate-released: 20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]\n")));
  CHECK(rel.git("show post-release-v0.18.0:README.md").find("0.18.0") != std::string::npos);
  CHECK(rel.git("show post-release-v0.18.0:README.md").find("0.17.0") == std::string::npos);
  CHECK(rel.git("show post-release-v0.18.0:docs/install.md").find("release 0.18.0") != std::string::npos);
  CHECK(rel.remote_git("rev-parse refs/heads/post-release-v0.18.0") == rel.git("rev-parse post-release-v0.18.0"));

  // The secret reached gh (it ran) but never the state directory or the console.
  Result grep = shell("grep -rl " + quote(kSecret) + " " + quote(rel.state) + " || true");
  CHECK(grep.out.empty());
  CHECK(r.out.find(kSecret) == std::string::npos);
}

TEST_CASE("a repeated pre-release: --rerun-phase pre-release --set alpha=2 tags -alpha.2 and leaves -alpha.1 alone") {
  Release rel;
  std::vector<std::string> args = {"run",         rel.playbook,     "--phase", "pre-release",
                                   "--with-deps", "--auto-approve", "--yes"};
  auto in = rel.inputs();
  args.insert(args.end(), in.begin(), in.end());
  Result r = rel.rel(args);
  REQUIRE(r.code == 0);
  std::map<std::string, std::string> alpha1;
  for (const auto& m : kModules) alpha1[m] = rel.remote_git("rev-parse src/" + m + "/v0.18.0-alpha.1");
  CHECK(rel.remote_git("tag -l 'src/*/v0.18.0'").empty());  // the cut was not selected

  r = rel.rel({"resume", "--rerun-phase", "pre-release", "--set", "alpha=2", "--auto-approve", "--yes"});
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  for (const auto& m : kModules) {
    CAPTURE(m);
    CHECK(rel.remote_git("rev-parse src/" + m + "/v0.18.0-alpha.1") == alpha1[m]);
    CHECK(rel.remote_git("rev-parse src/" + m + "/v0.18.0-alpha.2^{commit}") ==
          rel.remote_git("rev-parse " + alpha1[m] + "^{commit}"));
  }
  CHECK(rel.count("calls/gh.log", "gh release create v0.18.0-alpha.2 ") == 1);
  CHECK(rel.count("calls/go.log", "go get ") == 2);  // the kata bump was not repeated
  CHECK(rel.remote_git("tag -l 'src/*/v0.18.0'").empty());
  CHECK(rel.status()["inputs"]["alpha"] == "2");
}

TEST_CASE("pull requests merged with a merge commit or squashed: the release commit is the one GitHub made") {
  for (std::string style : {"merge", "squash"}) {
    CAPTURE(style);
    Release rel;
    rel.merge_style = style;
    Result r = rel.rel(rel.run_args({"--auto-approve", "--yes"}));
    CAPTURE(r.out);
    REQUIRE(r.code == 0);
    std::string merged = slurp(rel.pull("release-v0.18.0-pin") / "mergeCommit");
    REQUIRE(merged.size() == 40);
    CHECK(rel.remote_git("rev-parse v0.18.0^{commit}") == merged);
    for (const auto& m : kModules) CHECK(rel.remote_git("rev-parse src/" + m + "/v0.18.0^{commit}") == merged);
    CHECK(rel.git("show post-release-v0.18.0:CITATION.cff").find("commit: " + merged) != std::string::npos);
    // The pin is reverted on the post-release branch (a merge commit against main's line).
    CHECK(rel.git("show post-release-v0.18.0:src/cloud-api-adaptor/install/overlays/aws/kustomization.yaml")
              .find("  newTag: latest\n") != std::string::npos);
  }
}

TEST_CASE("others push while the release runs, and gh does not name merge commits: the merged pin is still tagged") {
  Release rel;
  Result r = rel.rel(rel.run_args());
  REQUIRE(r.code == 3);
  int pushes = 0;
  for (int round = 0; round < 20 && r.code == 3; ++round) {
    json st = rel.status();
    // Every merged pull request loses the merge commit gh would report: the playbook finds it in git.
    for (const auto& e : fs::directory_iterator(fs::path(rel.sandbox) / "github" / "pulls"))
      write(e.path() / "mergeCommit", "");
    rel.someone_pushes("file-" + std::to_string(++pushes));
    for (const auto& s : st["steps"])
      if (s["status"] == "waiting") REQUIRE(rel.rel({"approve", st["id"], s["id"]}).code == 0);
    r = rel.rel({"resume", "--yes"});
  }
  CAPTURE(r.out);
  REQUIRE(r.code == 0);
  std::string pin = rel.remote_git("log --format=%H --grep='^release: pin CAA image for v0.18.0$' main");
  REQUIRE(lines(pin).size() == 1);
  CHECK(rel.remote_git("rev-parse main") != pin);  // others' commits came after it
  for (const auto& m : kModules) CHECK(rel.remote_git("rev-parse src/" + m + "/v0.18.0^{commit}") == pin);
  CHECK(rel.remote_git("rev-parse v0.18.0^{commit}") == pin);
  CHECK(rel.git("show post-release-v0.18.0:CITATION.cff").find("commit: " + pin) != std::string::npos);
  CHECK(!rel.remote_git("log --format=%s main").empty());
  CHECK(rel.remote_git("log --format=%s main").find("unrelated: file-3") != std::string::npos);
}

TEST_CASE("the preflight reports every problem at once, and nothing is changed before it passes") {
  Release rel;
  // Four problems: a release tag already on the remote, CITATION.cff names a newer release, a
  // versions.yaml key the release edits is gone, and gh is not logged in.
  std::string versions = rel.repo + "/src/cloud-api-adaptor/versions.yaml";
  std::string text = slurp(versions);
  text.erase(text.find("    config: default\n"), std::string("    config: default\n").size());
  write(versions, text);
  std::string citation = slurp(rel.repo + "/CITATION.cff");
  citation.replace(citation.find("version: 0.17.0"), 15, "version: 0.19.0");
  write(rel.repo + "/CITATION.cff", citation);
  rel.git("commit -qam 'someone else edits' && GH_STANDIN_MERGING=1 git -C " + quote(rel.repo) +
          " push -q upstream main");
  rel.git("tag src/webhook/v0.18.0 && git -C " + quote(rel.repo) + " push -q upstream src/webhook/v0.18.0 && git -C " +
          quote(rel.repo) + " tag -d src/webhook/v0.18.0");
  std::string before = rel.remote_git("for-each-ref");
  rel.token = "";
  Result r = rel.rel(rel.run_args({"--auto-approve", "--yes"}));
  CAPTURE(r.out);
  CHECK(r.code == 1);
  std::set<std::string> failed;
  json st = rel.status();
  for (const auto& s : st["steps"])
    if (s["status"] == "failed") failed.insert(s["id"].get<std::string>());
  CHECK(failed == std::set<std::string>{"checkout-gh-auth", "modules-tags-free", "previous-order",
                                        "check-versions-keys[git.coco-operator.config]"});
  for (std::string why : {"src/webhook/v0.18.0 exists on upstream", "older than the previous release v0.19.0",
                          "no key 'config' in 'git.coco-operator'"})
    CHECK_MESSAGE(r.out.find(why) != std::string::npos, why);
  // Nothing after the preflight ran: no branch, no edit, nothing pushed.
  CHECK(rel.git("branch --list 'release-*'").empty());
  CHECK(rel.git("status --porcelain").empty());
  CHECK(rel.remote_git("for-each-ref") == before);
}
