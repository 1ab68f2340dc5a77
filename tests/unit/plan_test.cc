#include <doctest/doctest.h>

#include "load/loader.h"
#include "plan/plan.h"

using namespace relengine;

namespace {

const char* kPlaybook = R"YAML(version: 1
name: demo
inputs:
  version: {required: true}
  pre: {type: bool, default: false}
vars:
  modules: [api, cli]
defaults:
  workdir: repo
phases:
  - id: build
    steps:
      - id: head
        idempotent: true
        run: echo "sha=$(git rev-parse HEAD)" >> "$RELENGINE_OUTPUT"
      - id: tag
        for_each: ${{ vars.modules }}
        uses: git.tag
        with: {tag: "${{ item }}/${{ inputs.version }}", ref: "${{ steps.head.outputs.sha }}", remote: origin}
  - id: pre
    if: ${{ inputs.pre }}
    steps:
      - id: announce
        manual: Announce ${{ inputs.version }}
  - id: late
    steps:
      - id: check
        if: ${{ steps.head.outputs.sha != '' }}
        workdir: /abs/path
        run: echo ${{ inputs.version }}
        idempotent: true
)YAML";

struct Fixture {
  model::Playbook pb;
  Fixture() {
    auto r = load::load_text("dir/demo.yaml", kPlaybook);
    REQUIRE(r.playbook);
    pb = *r.playbook;
  }
  plan::Plan make(std::vector<std::string> sets, plan::Selection sel, load::Diagnostics& diags, plan::Prepared& prep) {
    load::InputSources s;
    s.sets = std::move(sets);
    prep = plan::prepare(pb, s, diags);
    REQUIRE(!diags.has_errors());
    return plan::make_plan(prep, sel, diags);
  }
  const plan::PlannedStep& find(const plan::Plan& p, const std::string& id) {
    for (const auto& s : p.steps)
      if (s.id == id) return s;
    FAIL("no step " << id);
    return p.steps[0];
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "rendering: actions, workdirs, conditions, irreversible tags") {
  load::Diagnostics diags;
  plan::Prepared prep;
  auto p = make({"version=v1"}, {}, diags, prep);
  REQUIRE(!diags.has_errors());
  REQUIRE(p.steps.size() == 5);
  const auto& tag = find(p, "tag[cli]");
  CHECK(tag.action.uses == "git.tag");
  CHECK(expr::to_string(*tag.action.with.field("tag")) == "cli/v1");
  CHECK(tag.action.with.field("ref")->is_unknown());
  CHECK(tag.irreversible);
  CHECK(tag.workdir == "dir/repo");  // relative to the playbook's directory
  CHECK(find(p, "announce").condition == false);
  CHECK(find(p, "announce").gate);
  CHECK(!find(p, "check").condition.has_value());  // depends on a step output
  CHECK(find(p, "check").workdir == "/abs/path");
  CHECK(find(p, "check").action.script == "echo v1");
  CHECK(find(p, "head").condition == true);

  diags = {};
  p = make({"version=v1", "pre=true"}, {}, diags, prep);
  CHECK(find(p, "announce").condition == true);
  CHECK(find(p, "announce").action.text == "Announce v1");
}

TEST_CASE_FIXTURE(Fixture, "the injection guard positions its error at the expression") {
  load::Diagnostics diags;
  plan::Prepared prep;
  auto p = make({"version=v1 && reboot"}, {}, diags, prep);
  auto all = diags.sorted();
  REQUIRE(all.size() == 1);
  CHECK(load::format(all[0]).rfind("dir/demo.yaml:30:19: error: step 'check': ${{ inputs.version }} expands", 0) == 0);
}

TEST_CASE_FIXTURE(Fixture, "selection: --from, --phase and --with-deps") {
  load::Diagnostics diags;
  plan::Prepared prep;
  plan::Selection sel;
  sel.from = "tag";
  auto p = make({"version=v1"}, sel, diags, prep);
  REQUIRE(!diags.has_errors());
  CHECK(!find(p, "head").selected);
  CHECK(find(p, "tag[api]").selected);
  CHECK(find(p, "check").selected);

  sel = {};
  sel.phases = {"late"};
  diags = {};
  make({"version=v1"}, sel, diags, prep);
  REQUIRE(diags.has_errors());
  CHECK(load::format(diags.sorted()[0]).find("depend on steps outside them: announce") != std::string::npos);

  sel.with_deps = true;
  diags = {};
  p = make({"version=v1"}, sel, diags, prep);
  CHECK(!diags.has_errors());
  for (const auto& s : p.steps) CHECK(s.selected);

  sel = {};
  sel.phases = {"build"};
  diags = {};
  p = make({"version=v1"}, sel, diags, prep);
  CHECK(!diags.has_errors());
  CHECK(!find(p, "check").selected);
  CHECK(find(p, "check").unselected_reason == "not in --phase");
}

TEST_CASE_FIXTURE(Fixture, "plan JSON has the order, needs and actions") {
  load::Diagnostics diags;
  plan::Prepared prep;
  auto p = make({"version=v1"}, {}, diags, prep);
  auto j = plan::plan_json(prep, p);
  CHECK(j["steps"].size() == 5);
  CHECK(j["steps"][0]["id"] == "head");
  CHECK(j["steps"][1]["needs"] == nlohmann::json::array({"head"}));
  CHECK(j["steps"][1]["action"]["with"]["ref"] == "${{ steps.head.outputs.sha }}");
  CHECK(j["inputs"]["version"] == "v1");
}
