// Built-in actions through the real binary, on real git repositories with local bare remotes.
#include <doctest/doctest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "run.h"

using namespace e2e;

namespace {

const std::string kGitEnv =
    "GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com";

struct GitSandbox {
  TempDir dir;
  std::string work = (dir / "work").string();
  std::string bare = (dir / "remote.git").string();
  std::string state = (dir / "state").string();
  GitSandbox() {
    Result r =
        shell("export " + kGitEnv + "; git init -q --bare " + quote(bare) + " && git init -q -b main " + quote(work) +
              " && cd " + quote(work) + " && printf 'app:\\n  version: v0.1.0 # current\\n' > versions.yaml" +
              " && echo 'Install 0.1.0' > README.md && git add -A && git commit -qm init && git remote add origin " +
              quote(bare) + " && git push -q origin main");
    REQUIRE(r.code == 0);
  }
  std::string git(const std::string& args) { return shell("git -C " + quote(work) + " " + args).out; }
  std::string remote_git(const std::string& args) { return shell("git -C " + quote(bare) + " " + args).out; }
  Result run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir", state});
    return relengine(args, dir.path().string(), kGitEnv);
  }
  std::string playbook(const std::string& text) {
    write(dir / "p.yaml", text);
    return (dir / "p.yaml").string();
  }
};

const char* kRelease = R"(version: 1
name: actions
inputs:
  version: {required: true}
  number: {required: true}
vars:
  modules: [api, cli, web]
defaults:
  workdir: work
phases:
  - id: bump
    steps:
      - id: set-version
        uses: yaml.set
        with: {file: versions.yaml, key: app.version, value: "${{ inputs.version }}"}
      - id: docs
        uses: file.replace
        with: {files: [README.md], pattern: '0\.1\.0', replacement: "${{ inputs.number }}"}
      - id: commit
        uses: git.commit
        with: {message: "release ${{ inputs.version }}"}
      - id: tag
        for_each: ${{ vars.modules }}
        uses: git.tag
        with: {tag: "src/${{ item }}/${{ inputs.version }}", ref: "${{ steps.commit.outputs.sha }}", remote: origin}
)";

}  // namespace

TEST_CASE("every action twice: the second run reports unchanged and changes nothing") {
  GitSandbox sb;
  std::string pb = sb.playbook(kRelease);
  Result r = sb.run({"run", pb, "--yes", "--set", "version=v0.2.0", "--set", "number=0.2.0"});
  REQUIRE(r.code == 0);
  CHECK(sb.git("rev-list --count HEAD") == "2\n");
  std::string tags = sb.remote_git("show-ref --tags");
  CHECK(lines(tags).size() == 3);
  std::string versions = slurp(fs::path(sb.work) / "versions.yaml");
  CHECK(versions == "app:\n  version: v0.2.0 # current\n");

  r = sb.run({"run", pb, "--yes", "--set", "version=v0.2.0", "--set", "number=0.2.0"});
  CHECK(r.code == 0);
  auto st = nlohmann::json::parse(sb.run({"status", "--json"}).out);
  for (const auto& s : st["steps"]) {
    CAPTURE(s["id"]);
    CHECK(s["status"] == "skipped");
    CHECK(s["reason"] == "unchanged");
  }
  CHECK(sb.git("rev-list --count HEAD") == "2\n");
  CHECK(sb.remote_git("show-ref --tags") == tags);
  CHECK(slurp(fs::path(sb.work) / "versions.yaml") == versions);
}

TEST_CASE("a tag that exists remotely at another commit is refused and neither side moves") {
  GitSandbox sb;
  std::string old_head = sb.git("rev-parse HEAD");
  shell("cd " + quote(sb.work) +
        " && git tag src/api/v0.2.0 && git push -q origin src/api/v0.2.0 && git tag -d src/api/v0.2.0");
  std::string pb = sb.playbook(kRelease);
  Result r = sb.run({"run", pb, "--yes", "--set", "version=v0.2.0", "--set", "number=0.2.0"});
  CHECK(r.code == 1);
  auto st = nlohmann::json::parse(sb.run({"status", "--json"}).out);
  bool refused = false;
  for (const auto& s : st["steps"])
    if (s["id"] == "tag[api]") {
      CHECK(s["status"] == "failed");
      refused = true;
    }
  CHECK(refused);
  CHECK(r.out.find("a pushed tag is never moved") != std::string::npos);
  CHECK(sb.remote_git("rev-parse refs/tags/src/api/v0.2.0") == old_head);
  CHECK(sb.git("rev-parse -q --verify refs/tags/src/api/v0.2.0").empty());
}

TEST_CASE("kill -9 in the middle of a for_each tag step: after resume every tag exists once and is right") {
  GitSandbox sb;
  // The remote logs each tag it accepts. Once it has the second one, its hook (which the push
  // waits for) blocks until the test creates `go` (a minute at most): the engine is killed while
  // that push, and so its step, is still running, with the tag on the remote and the step not yet
  // recorded. No sleep is assumed long enough for it.
  write(fs::path(sb.bare) / "hooks" / "post-receive",
        "#!/bin/sh\nwhile read old new ref; do echo \"$ref $new\" >> ../received.log; done\n"
        "n=$(wc -l < ../received.log)\n"
        "if [ $n -eq 2 ]; then echo $$ > ../hook.tmp && mv ../hook.tmp ../hook.pid; i=0;\n"
        "  while [ ! -f ../go ] && [ $i -lt 1200 ]; do i=$((i+1)); sleep 0.05; done\nfi\n");
  shell("chmod +x " + quote((fs::path(sb.bare) / "hooks" / "post-receive").string()));
  std::string pb = sb.playbook(kRelease);
  std::vector<std::string> argv = {"/usr/bin/env"};
  std::istringstream git_env(kGitEnv);
  for (std::string kv; git_env >> kv;) argv.push_back(kv);
  argv.insert(argv.end(), {RELENGINE_BIN, "--state-dir", sb.state, "run", pb, "-j", "1", "--yes", "--set",
                           "version=v0.2.0", "--set", "number=0.2.0"});
  std::string engine_log = (sb.dir / "engine.log").string();
  int engine = start_child(argv, sb.dir.path().string(), engine_log);
  // the second tag is on the remote; its step not yet recorded
  std::string hook = wait_for_line(sb.dir / "hook.pid");
  CAPTURE(slurp(engine_log));
  REQUIRE(!hook.empty());
  ::kill(engine, SIGKILL);
  CHECK(wait_child(engine) == 128 + SIGKILL);
  CHECK(eventually([&] { return !alive(std::stoi(hook)); }));  // the push's processes end with the engine
  write(sb.dir / "go", "");                                    // should the hook have survived
  Result r = sb.run({"resume", "--yes"});
  CHECK(r.code == 0);
  CHECK(r.out.find("tag[cli] (interrupted (its driver died))") != std::string::npos);
  CHECK(r.out.find("then 1 step not started yet") != std::string::npos);
  std::string commit = sb.git("rev-parse HEAD");
  commit.pop_back();
  auto log = lines(slurp(sb.dir / "received.log"));
  int tag_pushes = 0;
  for (const auto& l : log)
    if (l.find("refs/tags/") == 0) ++tag_pushes;
  CHECK(tag_pushes == 3);  // each tag pushed exactly once
  for (std::string m : {"api", "cli", "web"}) {
    CAPTURE(m);
    std::string sha = sb.remote_git("rev-parse refs/tags/src/" + m + "/v0.2.0");
    CHECK(sha == commit + "\n");
  }
}
