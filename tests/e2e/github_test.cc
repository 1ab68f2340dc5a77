// The exported GitHub workflow of the peer pods release, executed job by job on this machine
// (tests/github/run_workflow.py: each job on a fresh checkout and a fresh runner.temp, environments
// approved by a named reviewer, the state travelling as an artifact — or, in e2e-pg/, in the
// PostgreSQL store the secret RELENGINE_STATE names), on the sandbox: it ends in the remote state a
// plain `relengine run` reaches (the same tags on commits of the same trees and messages, the same
// main, the same GitHub releases). The job that pushes the release tags is killed mid-push, as a
// runner that dies, and re-run: every tag is pushed once. And the export's refusals.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

const std::string kGithubUrl = "https://github.com/confidential-containers/cloud-api-adaptor.git";
const std::string kPlaybook = ".github/relengine/peerpods-release.yaml";

// A sandbox (scripts/sandbox) whose main holds the release playbook at .github/relengine/, as a
// repository that runs its release from GitHub Actions would.
struct Sandbox {
  TempDir dir;
  std::string root = (dir / "sandbox").string();
  std::string repo = root + "/cloud-api-adaptor";
  std::string remote = root + "/remote.git";
  std::string env;

  static std::string env_now() {
    return "export GIT_AUTHOR_DATE=2026-11-30T12:00:00Z GIT_COMMITTER_DATE=2026-11-30T12:00:00Z GIT_AUTHOR_NAME=RM "
           "GIT_AUTHOR_EMAIL=rm@sandbox.invalid GIT_COMMITTER_NAME=RM GIT_COMMITTER_EMAIL=rm@sandbox.invalid";
  }

  Sandbox() {
    Result r = shell(env_now() + " && bash " + quote((fs::path(SOURCE_DIR) / "scripts" / "sandbox").string()) + " " +
                     quote(root));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    r = shell(env_now() + " && mkdir -p " + quote(repo + "/.github/relengine") + " && cp -r " +
              quote(std::string(SOURCE_DIR) + "/playbooks/peerpods-release.yaml") + " " +
              quote(std::string(SOURCE_DIR) + "/playbooks/lib") + " " + quote(repo + "/.github/relengine/") +
              " && cd " + quote(repo) +
              " && git add .github && git commit -qm 'The release playbook' && GH_STANDIN_MERGING=1 git push -q "
              "upstream HEAD:main");
    REQUIRE_MESSAGE(r.code == 0, r.err);
    // The remote logs every ref it takes in as its update is committed (a reference-transaction
    // hook, which runs before the remote reports to the pusher: a pusher killed after that cannot
    // keep the ref out of the log). The first ref that matches the pattern in BLOCK-REF then
    // hangs its push there (the ref is in, its pusher does not know yet) for as long as the pusher
    // lives: the hook's grandparent, the process that started git-receive-pack.
    write(fs::path(remote) / "hooks" / "reference-transaction",
          "#!/bin/sh\n[ \"$1\" = committed ] || exit 0\npusher=$(cut -d' ' -f4 /proc/$PPID/stat)\n"
          "while read old new ref; do block=\n"
          "  if [ -e ../BLOCK-REF ]; then pat=$(cat ../BLOCK-REF)\n"
          "    case $ref in $pat) rm -f ../BLOCK-REF; block=1 ;; esac; fi\n"
          "  echo \"$ref $new\" >> ../received.log\n"
          "  if [ -n \"$block\" ]; then i=0\n"
          "    while [ $i -lt 1200 ] && kill -0 \"$pusher\" 2>/dev/null; do sleep 0.05; i=$((i+1)); done; fi\n"
          "done\n");
    shell("chmod +x " + quote(remote + "/hooks/reference-transaction"));
    // Commits made at one time by one person, and GitHub's merges and releases at another: two
    // releases of the same inputs then make commits of the same hashes.
    env = "PATH=" + root +
          "/bin:$PATH GH_STANDIN_AUTOMERGE=rebase GH_STANDIN_NOW=2026-11-30T13:00:00Z "
          "GIT_AUTHOR_DATE=2026-11-30T12:00:00Z GIT_COMMITTER_DATE=2026-11-30T12:00:00Z GIT_AUTHOR_NAME=RM "
          "GIT_AUTHOR_EMAIL=rm@sandbox.invalid GIT_COMMITTER_NAME=RM GIT_COMMITTER_EMAIL=rm@sandbox.invalid";
  }
  std::string git(const std::string& args) { return shell("git --git-dir=" + quote(remote) + " " + args).out; }
  // What a release leaves on the remote: every tag and branch with its commit, and GitHub's
  // releases (their files as the gh stand-in keeps them).
  std::map<std::string, std::string> outcome() {
    std::map<std::string, std::string> out;
    for (const auto& l : lines(git("for-each-ref --format='%(refname) %(objectname)'")))
      out[l.substr(0, l.find(' '))] = l;
    for (const auto& e : fs::directory_iterator(fs::path(root) / "github" / "releases")) {
      std::string files;
      for (const auto& f : fs::directory_iterator(e.path()))
        if (f.is_regular_file()) files += f.path().filename().string() + "=" + slurp(f.path()) + ";";
      out["release " + e.path().filename().string()] = files;
    }
    return out;
  }
  std::size_t received(const std::string& ref_prefix) {
    std::size_t n = 0;
    for (const auto& l : lines(slurp(fs::path(root) / "received.log")))
      if (l.rfind(ref_prefix, 0) == 0) ++n;
    return n;
  }
};

const json kInputs = {{"repo", "../.."},  // relative to the playbook's directory (.github/relengine)
                      {"version", "v0.18.0"},
                      {"guest_components_ref", "5574c4945a5ba4523c7b3a5ff1c53ace58d12b77"},
                      {"kbs_ref", "258ea4acb7b9bd865fce5c63a539f2120dba8298"},
                      {"kata_agent_ref", "17472f3f10c83a8626ea2bde8c4d4868f6ee95b4"},
                      {"kata_version", "3.25.0"},
                      {"operator_ref", "v0.18.0"},
                      {"caa_image_tag", "a5f492482236b9fc4a77088efe6b4c2159ae6a03"},
                      {"more_inputs", "{release_date: '2026-11-30'}"}};
const std::string kToken = "ghp_SandboxSecret0123456789";

}  // namespace

TEST_CASE(
    "export github-actions: the workflow, run job by job, releases as relengine run does, and a job killed mid-push "
    "and re-run pushes nothing twice") {
  // The plain run, for the outcome to match.
  Sandbox plain;
  std::vector<std::string> args = {
      "--state-dir", (plain.dir / "state").string(), "run", plain.repo + "/" + kPlaybook, "--auto-approve", "--yes"};
  for (const auto& [k, v] : kInputs.items())
    if (k != "more_inputs") args.insert(args.end(), {"--set", k + "=" + v.get<std::string>()});
  args.insert(args.end(), {"--set", "release_date=2026-11-30"});
  Result r = relengine(args, plain.root, plain.env + " GITHUB_TOKEN=" + kToken);
  REQUIRE_MESSAGE(r.code == 0, r.out << r.err);

  Sandbox gh;
  const bool pg = on_postgres();
  const fs::path work = gh.dir / "work";
  const std::string workflow = (gh.dir / "release.yml").string();
  r = relengine({"export", "github-actions", kPlaybook, "--state-mode", pg ? "postgres" : "artifact", "-o", workflow},
                gh.repo);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string trigger = lines(gh.git("rev-parse main")).at(0);
  // actions/checkout: a fresh clone at the commit the workflow was started on, its remote named as
  // the playbook's `remote` input expects.
  const std::string checkout = "git clone -q -o upstream " + quote(gh.remote) +
                               " \"$WS\" && cd \"$WS\" && git remote set-url upstream " + kGithubUrl +
                               " && git config url." + gh.remote + ".insteadOf " + kGithubUrl +
                               " && git checkout -q -B main " + trigger;
  write(gh.dir / "bin" / "relengine", "#!/bin/sh\nexec " + quote(RELENGINE_BIN) + " \"$@\"\n");
  shell("chmod +x " + quote((gh.dir / "bin" / "relengine").string()));
  json secrets = {{"GITHUB_TOKEN", kToken}};
  if (pg) secrets["RELENGINE_STATE"] = state_location((gh.dir / "state").string());
  auto run_workflow = [&](const std::vector<std::string>& extra) {
    std::string line = "env " + gh.env + " /usr/bin/python3 " +
                       quote(std::string(TESTS_DIR) + "/github/run_workflow.py") + " " + quote(workflow) + " --work " +
                       quote(work.string()) + " --checkout " + quote(checkout) + " --relengine-bin " +
                       quote((gh.dir / "bin").string()) + " --inputs " + quote(kInputs.dump()) + " --secrets " +
                       quote(secrets.dump()) + " --reviewer 'Rita Reviewer'";
    for (const auto& e : extra) line += " " + quote(e);
    return shell(line);
  };

  // The runner of the job that tags the release dies while the first of its tags is being pushed.
  write(fs::path(gh.root) / "BLOCK-REF", "refs/tags/src/*/v0.18.0");
  r = run_workflow({"--kill", "cut-after-release-tag", (fs::path(gh.root) / "received.log").string(),
                    "^refs/tags/src/[^ ]*/v0[.]18[.]0 "});
  CHECK(r.code == 1);
  json results = json::parse(slurp(work / "results.json"));
  CAPTURE(slurp(work / "log.txt"));
  CHECK(results["cut-after-pin-pr-wait"] == "success");
  CHECK(results["confirm-release-tag"] == "success");
  CHECK(results["cut-after-release-tag"] == "failure");
  CHECK(results["post-release"] == "skipped");
  CHECK(!fs::exists(fs::path(gh.root) / "BLOCK-REF"));  // killed while pushing
  const std::size_t pushed_before = gh.received("refs/tags/src/");

  // "Re-run failed jobs": on a fresh checkout again, relengine resumes the run; the tag that was
  // pushed is found on the remote, not pushed again.
  r = run_workflow({"--rerun-failed"});
  CHECK_MESSAGE(r.code == 0, slurp(work / "log.txt"));
  results = json::parse(slurp(work / "results.json"));
  for (const auto& [job, result] : results.items()) CHECK_MESSAGE(result == "success", job);
  // Every module tag (pushed by git; the release's own tag is made by `gh release create`) was
  // taken in by the remote once: the one pushed when the runner died was not pushed again. (The
  // runner's death does not stop the remote's side of a push another instance was making at that
  // moment: the remote is another machine. That push's ref is in, and found there by the re-run,
  // or it is not, and the re-run pushes it.)
  std::size_t module_tags = 0;
  for (const auto& l : lines(gh.git("tag"))) {
    if (l.rfind("src/", 0) != 0) continue;
    CAPTURE(l);
    ++module_tags;
    CHECK(gh.received("refs/tags/" + l + " ") == 1);
  }
  CHECK(module_tags == 10);
  CHECK(gh.received("refs/tags/src/") == module_tags);
  // Before the runner died: the five -alpha.1 tags and at least the v0.18.0 tag whose push hung
  // (other instances may have pushed theirs meanwhile: they run at once).
  CHECK(pushed_before >= 6);

  // The same release as the plain run.
  auto want = plain.outcome(), got = gh.outcome();
  CHECK(want.size() > 10);
  for (const auto& [key, value] : want) {
    CAPTURE(key);
    CHECK(got[key] == value);
  }
  CHECK(got.size() == want.size());

  // Every approval is the environment's, by the run's actor, with the run's URL.
  Result status = relengine({"--state-dir", (gh.dir / "state").string(), "status", "gh-4242", "--json"});
  if (!pg)
    status =
        relengine({"--state-dir", (work / "artifacts" / "relengine-state").string(), "status", "gh-4242", "--json"});
  json st = json::parse(status.out);
  CHECK(st["status"] == "succeeded");
  std::size_t approvals = 0;
  for (const auto& s : st["steps"])
    if (s.contains("approval")) {
      ++approvals;
      CHECK(s["approval"]["by"] == "release-manager");
      CHECK(s["approval"]["note"].get<std::string>().rfind("GitHub environment release, run https://github.com/", 0) ==
            0);
    }
  CHECK(approvals >= 13);
}

TEST_CASE("export github-actions: what it cannot express is refused, positioned, exit 2") {
  E2E_STORE_FREE();
  TempDir d;
  std::string many = "version: 1\nname: many\ninputs:\n";
  for (int i = 0; i < 11; ++i) many += "  in" + std::to_string(i) + ": {required: true}\n";
  many += "phases:\n  - id: p\n    steps: [{id: s, run: 'true', idempotent: true}]\n";
  write(d / "many.yaml", many);
  Result r = relengine({"export", "github-actions", "many.yaml"}, d.path().string());
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK_MESSAGE(r.err.find("many.yaml:13:3: error: the playbook has more than 9 required inputs") == 0, r.err);

  write(d / "ok.yaml",
        "version: 1\nname: ok\nphases:\n  - id: p\n    steps: [{id: s, run: 'true', idempotent: true}]\n");
  r = relengine({"export", "github-actions", (d / "ok.yaml").string()});
  CHECK(r.code == 2);
  CHECK(r.err.find("give the playbook's path from the repository's root") != std::string::npos);

  write(d / "setup.yaml", "- name: no action\n  with: {a: b}\n");
  r = relengine({"export", "github-actions", "ok.yaml", "--setup", "setup.yaml"}, d.path().string());
  CHECK(r.code == 2);
  CHECK_MESSAGE(r.err.find("setup.yaml:1:3: error: --setup: each step is a map with 'run' or 'uses'") == 0, r.err);
  write(d / "setup.yaml", "- run: [unclosed\n");
  r = relengine({"export", "github-actions", "ok.yaml", "--setup", "setup.yaml"}, d.path().string());
  CHECK(r.code == 2);
  CHECK(r.err.find("setup.yaml:2:1: error: YAML syntax error") == 0);

  r = relengine({"export", "github-actions", "ok.yaml", "--state-mode", "s3"}, d.path().string());
  CHECK(r.code == 2);
  // Two inputs that would be one variable of the scripts; an environment GitHub cannot name.
  write(d / "twins.yaml",
        "version: 1\nname: twins\ninputs:\n  b-c: {default: '1'}\n  b_c: {default: '2'}\nphases:\n  - id: p\n"
        "    steps: [{id: s, run: 'true', idempotent: true}]\n");
  r = relengine({"export", "github-actions", "twins.yaml"}, d.path().string());
  CHECK(r.code == 2);
  CHECK_MESSAGE(r.err.find("twins.yaml:5:3: error: inputs 'b-c' and 'b_c' would be the same variable IN_B_C") == 0,
                r.err);
  write(d / "env.yaml",
        "version: 1\nname: env\nphases:\n  - id: p\n    steps:\n      - {id: g, manual: ok, github_environment: "
        "'prod ${{ github.actor }}'}\n");
  r = relengine({"export", "github-actions", "env.yaml"}, d.path().string());
  CHECK(r.code == 2);
  CHECK_MESSAGE(r.err.find("env.yaml:6:49: error: 'prod ${{ github.actor }}' is no GitHub environment name") == 0,
                r.err);
  // --setup replaces the action, and the workflow is written atomically where -o says.
  write(d / "setup.yaml",
        "- name: relengine from the runner's image\n  run: echo /opt/relengine/bin >> \"$GITHUB_PATH\"\n");
  r = relengine({"export", "github-actions", "ok.yaml", "--setup", "setup.yaml", "-o", "wf.yml"}, d.path().string());
  REQUIRE_MESSAGE(r.code == 0, r.err);
  std::string wf = slurp(d / "wf.yml");
  CHECK(wf.find("/opt/relengine/bin") != std::string::npos);
  CHECK(wf.find("uses: confidential-containers/relengine") == std::string::npos);

  // A workflow for the PostgreSQL store whose secret is not set stops at once: without it every
  // job would keep a state of its own, and run again what the jobs before did.
  r = relengine({"export", "github-actions", "ok.yaml", "-o", "pg.yml"}, d.path().string());
  REQUIRE(r.code == 0);
  write(d / "bin" / "relengine", "#!/bin/sh\nexec " + quote(RELENGINE_BIN) + " \"$@\"\n");
  shell("chmod +x " + quote((d / "bin" / "relengine").string()));
  r = shell("/usr/bin/python3 " + quote(std::string(TESTS_DIR) + "/github/run_workflow.py") + " " +
            quote((d / "pg.yml").string()) + " --work " + quote((d / "work").string()) + " --checkout " +
            quote("cp " + quote((d / "ok.yaml").string()) + " \"$WS\"/") + " --relengine-bin " +
            quote((d / "bin").string()));
  CHECK(r.code == 1);
  CHECK(slurp(d / "work" / "log.txt").find("the repository secret RELENGINE_STATE (a PostgreSQL URL) is not set") !=
        std::string::npos);
  CHECK(!fs::exists(d / "work" / "jobs" / "p" / "ws" / ".relengine"));
}

TEST_CASE(
    "cmake --install puts relengine and the small supervisor side by side, as the composite action installs them") {
  E2E_STORE_FREE();
  TempDir d;
  Result r = shell("cmake --install " + quote(fs::path(RELENGINE_BIN).parent_path().string()) + " --prefix " +
                   quote(d.path().string()));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(fs::exists(d / "bin" / "relengine-supervise"));
  r = shell(quote((d / "bin" / "relengine").string()) + " --version");
  CHECK(r.code == 0);
  CHECK(r.out.rfind("relengine ", 0) == 0);
}

TEST_CASE(
    "run --run-id: a run continued phase by phase, and approve of a for_each step approves its waiting instances") {
  TempDir d;
  write(d / "p.yaml", R"(version: 1
name: phased
phases:
  - id: one
    steps:
      - {id: a, run: "echo a >> log", idempotent: true}
  - id: two
    steps:
      - id: tag
        for_each: [x, y]
        run: "echo tag-${{ item }} >> log"
        irreversible: true
      - {id: b, run: "echo b >> log", idempotent: true}
)");
  const std::string state = (d / "state").string();
  Result r = relengine({"--state-dir", state, "run", "p.yaml", "--run-id", "gh-7", "--phase", "one", "--with-deps"},
                       d.path().string());
  REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
  CHECK(slurp(d / "log") == "a\n");
  r = relengine({"--state-dir", state, "run", "p.yaml", "--run-id", "gh-7", "--phase", "two", "--with-deps"},
                d.path().string());
  CHECK(r.code == 3);  // the irreversible instances wait
  CHECK(slurp(d / "log") == "a\n");
  r = relengine({"--state-dir", state, "approve", "gh-7", "tag", "--as", "rita", "--if-waiting"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("Approved tag[x] of run gh-7") != std::string::npos);
  CHECK(r.out.find("Approved tag[y] of run gh-7") != std::string::npos);
  r = relengine({"--state-dir", state, "run", "p.yaml", "--run-id", "gh-7", "--phase", "two", "--with-deps"},
                d.path().string());
  REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
  // a ran once, in the first job; the two instances (at once, in either order) before b.
  auto ran = lines(slurp(d / "log"));
  REQUIRE(ran.size() == 4);
  CHECK(ran[0] == "a");
  CHECK(std::set<std::string>{ran[1], ran[2]} == std::set<std::string>{"tag-x", "tag-y"});
  CHECK(ran[3] == "b");
  // Approving again, once it is done: nothing to approve.
  r = relengine({"--state-dir", state, "approve", "gh-7", "tag", "--if-waiting"});
  CHECK(r.code == 0);
  CHECK(r.out.find("tag[x] of run gh-7 is succeeded: nothing to approve") != std::string::npos);
  r = relengine({"--state-dir", state, "approve", "gh-7", "tag"});
  CHECK(r.code == 2);
  // A for_each gate whose list came out empty has nothing to wait for: --if-waiting says so.
  write(d / "e.yaml", R"(version: 1
name: empty
phases:
  - id: one
    steps:
      - {id: find, idempotent: true, run: 'echo "list=[]" >> "$RELENGINE_OUTPUT"'}
      - id: push
        for_each: ${{ fromJSON(steps.find.outputs.list) }}
        irreversible: true
        run: "echo ${{ item }}"
)");
  r = relengine({"--state-dir", state, "run", "e.yaml", "--run-id", "gh-8"}, d.path().string());
  REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
  r = relengine({"--state-dir", state, "approve", "gh-8", "push", "--if-waiting"});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("push of run gh-8 has no instances (its list is empty): nothing to approve") != std::string::npos);
  r = relengine({"--state-dir", state, "approve", "gh-8", "push"});
  CHECK(r.code == 2);
  // Another playbook under the same id, and an id relengine does not take.
  write(d / "q.yaml",
        "version: 1\nname: other\nphases:\n  - id: one\n    steps: [{id: a, run: 'true', idempotent: true}]\n");
  r = relengine({"--state-dir", state, "run", "q.yaml", "--run-id", "gh-7"}, d.path().string());
  CHECK(r.code == 2);
  CHECK(r.err.find("run gh-7 is a run of playbook 'phased', not of 'other'") != std::string::npos);
  r = relengine({"--state-dir", state, "run", "q.yaml", "--run-id", "../x"}, d.path().string());
  CHECK(r.code == 2);
  CHECK(r.err.find("--run-id '../x': a run id is letters, digits") != std::string::npos);
}
