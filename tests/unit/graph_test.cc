#include <doctest/doctest.h>

#include "graph/step_graph.h"
#include "load/loader.h"

using namespace relengine;

namespace {

model::Playbook load_pb(const std::string& text) {
  auto r = load::load_text("g.yaml", text);
  for (const auto& d : r.diags.sorted()) MESSAGE(load::format(d));
  REQUIRE(r.playbook);
  return *r.playbook;
}

std::vector<std::string> deps(const graph::StepGraph& g, const std::string& id) {
  std::vector<std::string> out;
  auto v = g.find(id);
  REQUIRE_MESSAGE(v, id);
  for (auto d : g.dependencies(*v)) out.push_back(g.node(d).id);
  return out;
}

std::vector<std::string> order(const graph::StepGraph& g) {
  std::vector<std::string> out;
  for (auto v : g.topological_order()) out.push_back(g.node(v).id);
  return out;
}

const char* kShape = R"(version: 1
name: g
phases:
  - id: a
    steps:
      - {id: a1, run: x, idempotent: true}
      - {id: a2, run: x, idempotent: true}
      - {id: a3, needs: [], run: x, idempotent: true}
  - id: b
    steps:
      - {id: b1, run: x, idempotent: true}
      - {id: b2, needs: [a1], run: x, idempotent: true}
  - id: c
    needs: []
    steps:
      - {id: c1, run: x, idempotent: true}
  - id: d
    needs: [b, c]
    steps:
      - {id: d1, run: x, idempotent: true}
      - {id: d2, needs: [a], run: x, idempotent: true}
)";

}  // namespace

TEST_CASE("ordering rules: sequence by default, needs on steps and phases, a phase means all its steps") {
  auto pb = load_pb(kShape);
  auto g = graph::StepGraph::of_steps(pb);
  CHECK(g.size() == 8);
  CHECK(deps(g, "a1").empty());
  CHECK(deps(g, "a2") == std::vector<std::string>{"a1"});
  CHECK(deps(g, "a3").empty());  // needs: [] starts with its phase
  // Phase b follows a: its first step waits for a's last steps (a2 and a3, the sinks).
  CHECK(deps(g, "b1") == std::vector<std::string>{"a2", "a3"});
  // b2 needs a1 explicitly and is not after b1, so it also waits for phase a.
  CHECK(deps(g, "b2") == std::vector<std::string>{"a1", "a2", "a3"});
  CHECK(deps(g, "c1").empty());  // phase c: needs []
  CHECK(deps(g, "d1") == std::vector<std::string>{"b1", "b2", "c1"});
  CHECK(deps(g, "d2") == std::vector<std::string>{"a2", "a3", "b1", "b2", "c1"});
}

TEST_CASE("the topological order is stable: ties are broken by order in the file") {
  auto pb = load_pb(kShape);
  auto g = graph::StepGraph::of_steps(pb);
  // a1, a3 and c1 are ready at once; ties go to the one written first, so c1 (ready from the
  // start) waits until a2, a3, b1 and b2, which come before it in the file, are taken.
  CHECK(order(g) == std::vector<std::string>{"a1", "a2", "a3", "b1", "b2", "c1", "d1", "d2"});
}

TEST_CASE("for_each expands into ID[ITEM] — needing ID means needing all of them") {
  auto pb = load_pb(R"(version: 1
name: g
phases:
  - id: p
    steps:
      - {id: prep, run: x, idempotent: true}
      - {id: tag, for_each: [api, cli], run: "echo ${{ item }}", idempotent: true}
      - {id: pick, for_each: [{n: 1}, {n: 2}], run: x, idempotent: true}
      - {id: done, needs: [tag], run: x, idempotent: true}
)");
  auto items = [](const model::Step& st) -> std::optional<std::vector<expr::Value>> {
    return expr::from_node(*st.for_each).list();
  };
  auto g = graph::StepGraph::expanded(pb, items);
  CHECK(g.size() == 6);
  CHECK(deps(g, "tag[api]") == std::vector<std::string>{"prep"});
  CHECK(deps(g, "tag[cli]") == std::vector<std::string>{"prep"});
  CHECK(deps(g, "pick[0]") == std::vector<std::string>{"tag[api]", "tag[cli]"});  // maps are named by index
  CHECK(deps(g, "pick[1]") == std::vector<std::string>{"tag[api]", "tag[cli]"});
  CHECK(deps(g, "done") == std::vector<std::string>{"tag[api]", "tag[cli]"});
  CHECK(g.node(*g.find("tag[cli]")).item->str() == "cli");

  auto unknown = [](const model::Step&) -> std::optional<std::vector<expr::Value>> { return std::nullopt; };
  auto g2 = graph::StepGraph::expanded(pb, unknown);
  CHECK(g2.find("tag[*]"));
  CHECK(g2.node(*g2.find("tag[*]")).unexpanded);
}

TEST_CASE("cycles are reported once each, naming every member, at a needs entry on the cycle") {
  auto r = load::load_text("c.yaml", R"(version: 1
name: g
phases:
  - id: p
    steps:
      - {id: a, needs: [c], run: x, idempotent: true}
      - {id: b, run: x, idempotent: true}
      - {id: c, run: x, idempotent: true}
      - {id: d, needs: [e], run: x, idempotent: true}
      - {id: e, needs: [d], run: x, idempotent: true}
)");
  REQUIRE(r.playbook);
  load::Diagnostics diags;
  auto g = graph::StepGraph::of_steps(*r.playbook);
  CHECK(g.topological_order().empty());
  g.report_cycles("c.yaml", diags);
  auto all = diags.sorted();
  REQUIRE(all.size() == 2);
  CHECK(load::format(all[0]) == "c.yaml:6:25: error: dependency cycle: a -> b -> c -> a");
  CHECK(load::format(all[1]).find("dependency cycle: d -> e -> d") != std::string::npos);
}

TEST_CASE("a 10,000-step chain neither overflows the stack nor takes quadratic time") {
  std::string text = "version: 1\nname: big\nphases:\n  - id: p\n    steps:\n";
  for (int i = 0; i < 10000; ++i) text += "      - {id: s" + std::to_string(i) + ", run: x, idempotent: true}\n";
  auto pb = load_pb(text);
  auto g = graph::StepGraph::of_steps(pb);
  load::Diagnostics diags;
  g.report_cycles("big.yaml", diags);
  CHECK(!diags.has_errors());
  auto o = g.topological_order();
  REQUIRE(o.size() == 10000);
  CHECK(g.node(o.back()).id == "s9999");
}

TEST_CASE("expand: a for_each known at run time replaces ID[*] by its instances, which inherit its edges") {
  auto pb = load_pb(R"(version: 1
name: g
phases:
  - id: p
    steps:
      - {id: find, run: x, idempotent: true}
      - {id: fan, for_each: "${{ fromJSON(steps.find.outputs.list) }}", run: x, idempotent: true}
      - {id: last, run: x, idempotent: true}
)");
  auto unknown = [](const model::Step&) -> std::optional<std::vector<expr::Value>> { return std::nullopt; };
  auto g = graph::StepGraph::expanded(pb, unknown);
  auto placeholder = g.find("fan[*]");
  REQUIRE(placeholder);
  auto added = g.expand(*placeholder, {expr::Value("b"), expr::Value("a")});
  REQUIRE(added.size() == 2);
  CHECK(!g.find("fan[*]"));
  CHECK(g.node(*placeholder).retired);
  CHECK(deps(g, "fan[b]") == std::vector<std::string>{"find"});
  CHECK(deps(g, "fan[a]") == std::vector<std::string>{"find"});
  CHECK(deps(g, "last") == std::vector<std::string>{"fan[b]", "fan[a]"});
  // The instances keep their step's place in the order (not the end, where they were added), in item order.
  CHECK(order(g) == std::vector<std::string>{"find", "fan[b]", "fan[a]", "last"});

  // An empty list: the dependents follow the placeholder's dependencies directly... through nothing.
  auto g2 = graph::StepGraph::expanded(pb, unknown);
  g2.expand(*g2.find("fan[*]"), {});
  CHECK(deps(g2, "last").empty());
  CHECK(order(g2) == std::vector<std::string>{"find", "last"});
}

TEST_CASE("a for_each reading a step it does not run after is reported at the for_each") {
  auto pb = load_pb(R"(version: 1
name: g
phases:
  - id: p
    steps:
      - {id: fan, for_each: "${{ fromJSON(steps.find.outputs.list) }}", run: x, idempotent: true}
      - {id: find, run: x, idempotent: true}
      - {id: ok, needs: [find], for_each: "${{ fromJSON(steps.find.outputs.list) }}", run: x, idempotent: true}
)");
  load::Diagnostics diags;
  graph::StepGraph::of_steps(pb).check("g.yaml", diags);
  REQUIRE(diags.error_count() == 1);
  CHECK(load::format(diags.sorted()[0]).find("g.yaml:6:") == 0);
  CHECK(diags.sorted()[0].message.find("for_each of step 'fan' reads step 'find'") != std::string::npos);
}
