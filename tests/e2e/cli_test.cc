// End-to-end tests of validate, list and plan on the real binary: golden outputs for the
// valid playbooks, inputs errors, secrets, the injection guard, JSON, help and a 10,000-step playbook.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "run.h"

using namespace e2e;

namespace {

const fs::path kValid = fs::path(TESTS_DIR) / "valid";
const std::string kPeerpods = (fs::path(SOURCE_DIR) / "playbooks" / "peerpods-release.yaml").string();

std::vector<std::string> peerpods_inputs() {
  return {"--set", "version=v0.8.0",
          "--set", "guest_components_ref=5574c4945a5ba4523c7b3a5ff1c53ace58d12b77",
          "--set", "kbs_ref=f342a12115c67ea3",
          "--set", "kata_agent_ref=17472f3f10c8",
          "--set", "kata_version=3.6.0",
          "--set", "operator_ref=v0.17.0",
          "--set", "caa_image_tag=6d7d2a3fe8243809b3c3a710792c8498292e2fc3"};
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("plan and list of the valid playbooks match their golden outputs") {
  E2E_STORE_FREE();
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(kValid))
    if (e.path().extension() == ".args") cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());
  REQUIRE(cases.size() >= 5);
  for (const auto& c : cases) {
    CAPTURE(c);
    auto args = lines(slurp(c));
    REQUIRE(args.size() >= 2);
    std::vector<std::string> argv = {args[1], args[0]};
    argv.insert(argv.end(), args.begin() + 2, args.end());
    Result r = relengine(argv, kValid.string(), "RELENGINE_TEST_TOKEN=s3cr3t");
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    std::string expected = slurp(fs::path(c).replace_extension(".out"));
    CHECK(r.out == expected);
    CHECK(r.out.find("s3cr3t") == std::string::npos);
  }
}

TEST_CASE("validate: the peer pods playbook is valid — lint warnings fail only under --strict") {
  E2E_STORE_FREE();
  Result r = relengine({"validate", kPeerpods});
  CHECK(r.code == 0);
  CHECK(r.out.find("valid (6 phases") != std::string::npos);

  TempDir dir;
  write(dir / "lint.yaml",
        "version: 1\nname: lint\nphases:\n  - id: p\n    steps:\n      - id: a\n        run: echo hi\n");
  r = relengine({"validate", (dir / "lint.yaml").string()});
  CHECK(r.code == 0);
  CHECK(r.err.find("lint.yaml:7:9: warning: step 'a' runs a command with neither done_if nor idempotent") !=
        std::string::npos);
  r = relengine({"validate", "--strict", (dir / "lint.yaml").string()});
  CHECK(r.code == 1);
}

TEST_CASE("validate reports every problem of a file in one pass, sorted by position") {
  E2E_STORE_FREE();
  TempDir dir;
  write(dir / "many.yaml",
        "version: 1\nname: many\nphases:\n  - id: p\n    steps:\n      - id: a\n        nedds: [x]\n        run: echo "
        "${{ inputs.nope }}\n"
        "        idempotent: true\n      - id: b\n        timeout: soon\n        manual: hi\n");
  Result r = relengine({"validate", (dir / "many.yaml").string()});
  CHECK(r.code == 2);
  auto errs = lines(r.err);
  REQUIRE(errs.size() == 4);
  CHECK(errs[0].find("many.yaml:7:9: error: unknown key 'nedds'") != std::string::npos);
  CHECK(errs[1].find(":8:23: error: unknown input 'nope'") != std::string::npos);
  CHECK(errs[2].find(":11:18: error: 'timeout': 'soon' is not a duration") != std::string::npos);
  CHECK(errs[3] == "3 errors");
}

TEST_CASE("a missing or unreadable playbook is a clear error, exit 2") {
  E2E_STORE_FREE();
  Result r = relengine({"validate", "/nonexistent/playbook.yaml"});
  CHECK(r.code == 2);
  CHECK(r.err.find("/nonexistent/playbook.yaml: error: cannot read the playbook") != std::string::npos);
}

TEST_CASE("plan: every input problem is reported together, exit 2, nothing written") {
  E2E_STORE_FREE();
  TempDir dir;
  Result r = relengine({"plan", kPeerpods, "--set", "version=8.0", "--set", "alpha=two", "--set",
                        "skip_prerelease=maybe", "--set", "verison=v1.0.0", "--set", "novalue"},
                       dir.path().string());
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("input 'version': '8.0' does not match the pattern") != std::string::npos);
  CHECK(r.err.find("input 'alpha': 'two' must be an integer (from --set)") != std::string::npos);
  CHECK(r.err.find("input 'skip_prerelease': 'maybe' must be true or false") != std::string::npos);
  CHECK(r.err.find("unknown input 'verison' (--set); did you mean 'version'?") != std::string::npos);
  CHECK(r.err.find("--set 'novalue' must be NAME=VALUE") != std::string::npos);
  CHECK(r.err.find("input 'kbs_ref' is required: pass --set kbs_ref=VALUE") != std::string::npos);
  CHECK(!fs::exists(dir / ".relengine"));
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("plan: --inputs file, with --set winning, and positioned errors in the file") {
  E2E_STORE_FREE();
  TempDir dir;
  write(dir / "in.yaml", "version: v0.9.0\nalpha: 2\nkbs_ref: abc\n");
  auto args = concat({"plan", kPeerpods, "--inputs", (dir / "in.yaml").string(), "--json"}, peerpods_inputs());
  args.erase(std::find(args.begin(), args.end(), "version=v0.8.0") - 1,
             std::find(args.begin(), args.end(), "version=v0.8.0") + 1);
  args.push_back("--set");
  args.push_back("alpha=3");
  Result r = relengine(args);
  REQUIRE(r.code == 0);
  auto plan = nlohmann::json::parse(r.out);
  CHECK(plan["inputs"]["version"] == "v0.9.0");
  CHECK(plan["inputs"]["alpha"] == "3");

  write(dir / "bad.yaml", "version: v0.9.0\nalpah: 2\nkata_version: [1]\n");
  r = relengine({"plan", kPeerpods, "--inputs", (dir / "bad.yaml").string()});
  CHECK(r.code == 2);
  CHECK(r.err.find("bad.yaml:2:1: error: unknown input 'alpah'; did you mean 'alpha'?") != std::string::npos);
  CHECK(r.err.find("bad.yaml:3:15: error: the value of input 'kata_version' must be a single value") !=
        std::string::npos);
}

TEST_CASE("plan: a secret input is read from its environment variable and never printed") {
  E2E_STORE_FREE();
  const std::string secret = "ghp_TopSecretValue123";
  Result r = relengine(concat({"plan", kPeerpods}, peerpods_inputs()), "", "GITHUB_TOKEN=" + secret);
  REQUIRE(r.code == 0);
  CHECK(r.out.find(secret) == std::string::npos);
  CHECK(r.out.find("github_token=***") != std::string::npos);
  r = relengine(concat({"plan", kPeerpods, "--json"}, peerpods_inputs()), "", "GITHUB_TOKEN=" + secret);
  REQUIRE(r.code == 0);
  CHECK(r.out.find(secret) == std::string::npos);
  CHECK(!nlohmann::json::parse(r.out)["inputs"].contains("github_token"));
}

TEST_CASE("plan: the injection guard refuses unsafe values in shell text and names the expression") {
  E2E_STORE_FREE();
  TempDir dir;
  write(dir / "inj.yaml",
        "version: 1\nname: inj\ninputs:\n  msg: {required: true}\nphases:\n  - id: p\n    steps:\n"
        "      - id: say\n        idempotent: true\n        run: echo ${{ inputs.msg }}\n"
        "      - id: safe\n        idempotent: true\n        env: {MSG: '${{ inputs.msg }}'}\n        run: echo "
        "\"$MSG\"\n");
  Result r = relengine({"plan", (dir / "inj.yaml").string(), "--set", "msg=hi; rm -rf ~"});
  CHECK(r.code == 2);
  CHECK(r.err.find("inj.yaml:10:19: error: step 'say': ${{ inputs.msg }} expands to a value with characters that are "
                   "not safe") != std::string::npos);
  CHECK(r.err.find("env:") != std::string::npos);
  CHECK(lines(r.err).size() == 2);  // the env: use is fine
  r = relengine({"plan", (dir / "inj.yaml").string(), "--set", "msg=v1.2.3"});
  CHECK(r.code == 0);
  CHECK(r.out.find("$ echo v1.2.3") != std::string::npos);
}

TEST_CASE("plan --json of the peer pods playbook: phases in order, expansions, gates, irreversible tags") {
  E2E_STORE_FREE();
  Result r = relengine(concat({"plan", kPeerpods, "--json"}, peerpods_inputs()));
  REQUIRE(r.code == 0);
  auto plan = nlohmann::json::parse(r.out);
  std::vector<std::string> phases;
  for (const auto& p : plan["phases"]) phases.push_back(p["id"]);
  CHECK(phases ==
        std::vector<std::string>{"upstream-sync", "kata-bump", "operator-pin", "pre-release", "cut", "post-release"});
  std::map<std::string, nlohmann::json> steps;
  std::map<std::string, int> order;
  for (const auto& s : plan["steps"]) steps[s["id"]] = s, order[s["id"]] = s["order"];
  // The modules are discovered in the checkout at run time: one entry stands for all the tags.
  REQUIRE(steps.count("prerelease-tag[*]"));
  CHECK(steps["prerelease-tag[*]"]["instances"] == "known at run time");
  CHECK(steps["prerelease-tag[*]"]["action"]["with"]["tag"] == "src/${{ item }}/v0.8.0-alpha.1");
  CHECK(steps["prerelease-tag[*]"]["irreversible"] == true);
  CHECK(steps["wait-operator-release"]["gate"] == true);
  CHECK(steps["release-github"]["irreversible"] == true);
  CHECK(order["prerelease-tag[*]"] < order["prerelease-github"]);
  CHECK(order["preflight"] < order["pin-guest-components"]);
  CHECK(order["commit-upstream-sync"] < order["kata-runtime-go-get[*]"]);
  CHECK(!steps.count("pin-kata-source"));  // no git.kata-containers key since 2024
  // Every dependency comes earlier in the order.
  for (const auto& s : plan["steps"])
    for (const auto& need : s["needs"]) CHECK(order[need] < order[s["id"]]);

  r = relengine(concat({"plan", kPeerpods, "--json", "--set", "skip_prerelease=true"}, peerpods_inputs()));
  REQUIRE(r.code == 0);
  auto skipped = nlohmann::json::parse(r.out);
  for (const auto& s : skipped["steps"])
    if (s["phase"] == "pre-release") CHECK(s["will_run"] == false);
}

TEST_CASE("plan selection: unknown phase or step, and dependencies outside --phase") {
  E2E_STORE_FREE();
  auto base = concat({"plan", kPeerpods}, peerpods_inputs());
  Result r = relengine(concat(base, {"--phase", "cutt"}));
  CHECK(r.code == 2);
  CHECK(r.err.find("--phase: unknown phase 'cutt' (did you mean 'cut'?)") != std::string::npos);
  r = relengine(concat(base, {"--phase", "cut"}));
  CHECK(r.code == 2);
  CHECK(r.err.find("add --with-deps") != std::string::npos);
  r = relengine(concat(base, {"--phase", "cut", "--with-deps", "--json"}));
  CHECK(r.code == 0);
  r = relengine(concat(base, {"--from", "release-tag", "--json"}));
  REQUIRE(r.code == 0);
  auto from = nlohmann::json::parse(r.out);
  for (const auto& s : from["steps"]) {
    if (s["phase"] == "upstream-sync") CHECK(s["will_run"] == false);
    if (s["id"].get<std::string>().rfind("release-tag", 0) == 0 || s["phase"] == "post-release")
      CHECK(s["will_run"] == true);
  }
  r = relengine(concat(base, {"--from", "nope"}));
  CHECK(r.code == 2);
}

TEST_CASE("list shows phases, gates, irreversible steps and for_each expansions without inputs") {
  E2E_STORE_FREE();
  Result r = relengine({"list", kPeerpods});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("6 phases") != std::string::npos);
  CHECK(r.out.find("- wait-operator-release  (manual) [gate]") != std::string::npos);
  CHECK(r.out.find("for each: prerelease-tag[*]") != std::string::npos);  // modules found at run time
  CHECK(r.out.find("[irreversible]") != std::string::npos);
}

TEST_CASE("--help on every subcommand, --version, and bad usage exits 2") {
  E2E_STORE_FREE();
  for (std::string cmd : {"validate", "list", "plan"}) {
    Result r = relengine({cmd, "--help"});
    CAPTURE(cmd);
    CHECK(r.code == 0);
    CHECK(r.out.find("Usage") != std::string::npos);
  }
  Result r = relengine({"--version"});
  CHECK(r.code == 0);
  CHECK(r.out.rfind("relengine ", 0) == 0);
  CHECK(relengine({"frobnicate"}).code == 2);
  CHECK(relengine({"validate"}).code == 2);
  CHECK(relengine({"plan", kPeerpods, "--bogus"}).code == 2);
}

TEST_CASE("a generated 10,000-step playbook validates and plans") {
  E2E_STORE_FREE();
  TempDir dir;
  std::string text = "version: 1\nname: big\nphases:\n";
  for (int p = 0; p < 10; ++p) {
    text += "  - id: phase-" + std::to_string(p) + "\n    steps:\n";
    for (int s = 0; s < 1000; ++s) {
      std::string id = "s" + std::to_string(p) + "-" + std::to_string(s);
      text += "      - id: " + id + "\n        run: \"true\"\n        idempotent: true\n";
      if (s % 10 == 5) text += "        needs: [s" + std::to_string(p) + "-" + std::to_string(s - 5) + "]\n";
    }
  }
  write(dir / "big.yaml", text);
  Result r = relengine({"validate", (dir / "big.yaml").string()});
  CHECK(r.code == 0);
  CHECK(r.out.find("valid (10 phases, 10000 steps)") != std::string::npos);
  r = relengine({"plan", (dir / "big.yaml").string(), "--json"});
  REQUIRE(r.code == 0);
  auto plan = nlohmann::json::parse(r.out);
  CHECK(plan["steps"].size() == 10000);
}
