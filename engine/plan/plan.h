// What a run would do and why: inputs and vars resolved, the step graph expanded, the
// selection (--phase, --from, --with-deps) applied, every step's `if` evaluated and action
// rendered (with the injection guard). Used by `plan`, `list` and, later, `run`.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "expr/expr.h"
#include "graph/step_graph.h"
#include "load/diagnostics.h"
#include "load/inputs.h"
#include "model/playbook.h"

namespace relengine::plan {

// A playbook with its inputs and vars resolved and its graph expanded.
struct Prepared {
  const model::Playbook* playbook = nullptr;
  load::InputValues inputs;
  std::map<std::string, expr::Value> vars;
  graph::StepGraph graph;
};

// The items of each for_each expanded at run time, by step id (recorded in the run's state).
using Expansions = std::map<std::string, std::vector<expr::Value>>;
Expansions parse_expansions(const std::map<std::string, std::string>& recorded);  // step -> items JSON

// `recorded`: a run's expansions, so that a resumed (or drawn) run has the instances it had.
Prepared prepare(const model::Playbook& pb, const load::InputSources& sources, load::Diagnostics& diags,
                 const Expansions* recorded = nullptr);

struct Selection {
  std::vector<std::string> phases;  // --phase
  std::string from;                 // --from
  bool with_deps = false;           // --with-deps
  bool empty() const { return phases.empty() && from.empty(); }
};

struct RenderedAction {
  model::ActionKind kind = model::ActionKind::None;
  std::string script;  // run
  std::string uses;    // uses
  expr::Value with;    // uses: rendered `with`
  std::string text;    // manual
};

struct PlannedStep {
  graph::Vertex vertex = 0;
  std::string id;
  const model::Step* step = nullptr;
  const model::Phase* phase = nullptr;
  std::vector<std::string> needs;  // ids of the instances it waits for
  bool selected = true;
  std::string unselected_reason;  // "before --from", "not in --phase"
  std::optional<bool> condition;  // the step's and its phase's `if`; nullopt: known at run time
  std::string condition_text;     // what decided it, for the reader
  RenderedAction action;
  std::string workdir;
  std::string shell;
  std::string done_if;  // rendered shell text, "" when none
  std::string verify;
  std::vector<std::pair<std::string, std::string>> preconditions;  // (command, message)
  std::vector<std::pair<std::string, std::string>> env;            // defaults.env then step env, rendered
  std::chrono::milliseconds timeout{0};                            // 0: none
  model::Retry retry;
  bool render_failed = false;
  bool render_unsafe = false;  // the failure is the injection guard's (exit 2, not a step failure)
  bool gate = false;           // manual step
  bool irreversible = false;   // irreversible: true, or git.tag with a remote
};

struct Plan {
  std::vector<PlannedStep> steps;  // in a valid execution order
};

// Values a step may read at render time: the playbook's inputs and vars, its item, step
// results (unknown at plan time: pass nothing), and the run id.
struct RenderContext {
  const Prepared* prepared = nullptr;
  std::function<std::optional<expr::Value>(const std::string&, const std::string&, const std::string&)> steps;
  std::string run_id;
};

Plan make_plan(const Prepared& prepared, const Selection& selection, load::Diagnostics& diags);

// Renders one step instance (if, action, workdir); problems go to diags with positions.
PlannedStep render_step(const RenderContext& ctx, graph::Vertex v, load::Diagnostics& diags);

// Whether a step needs a person's confirmation: `irreversible: true`, or a git.tag whose `remote`
// is not empty (it pushes). `with`: the step's rendered `with`; nullptr: its `remote` is rendered
// here from the inputs, vars and `item` (a value known only at run time counts as a push). The one
// place that decides it, for plan, list, graph and the executor.
bool irreversible(const Prepared& prep, const model::Step& step, const expr::Value* item, const expr::Value* with);

// The items of an unexpanded for_each (ID[*]) once the steps it reads have finished; nullopt,
// with a positioned error, when they cannot be evaluated, are not a list, or repeat an item.
std::optional<std::vector<expr::Value>> for_each_items(const RenderContext& ctx, graph::Vertex v,
                                                       load::Diagnostics& diags);

// A stable hash of everything that defines what a rendered step does (not its name):
// a succeeded step whose fingerprint changed runs again on resume.
std::string fingerprint(const PlannedStep& step);

void print_plan(std::ostream& out, const Prepared& prepared, const Plan& plan);
nlohmann::ordered_json plan_json(const Prepared& prepared, const Plan& plan);

// `relengine list`: phases and steps with names, descriptions, gate marks, expansions.
void print_list(std::ostream& out, const Prepared& prepared);

}  // namespace relengine::plan
