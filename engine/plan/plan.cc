#include "plan/plan.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "load/source_map.h"

namespace relengine::plan {

namespace fs = std::filesystem;

Expansions parse_expansions(const std::map<std::string, std::string>& recorded) {
  Expansions out;
  for (const auto& [step, text] : recorded) {
    auto v = expr::from_json(text);
    if (v && v->is_list()) out[step] = v->list();
  }
  return out;
}

namespace {

// The scope a step's own fields render in. A playbook's step: the playbook's inputs, vars and
// steps. A library's step: its include entry's `with` as `inputs` (over the library's defaults),
// no vars, and its library's steps by their local ids; the `with` itself renders in the
// includer's scope (the playbook's, or the including library's).
struct StepScope {
  std::map<std::string, expr::Value> inputs;
  std::map<std::string, expr::Value> vars;
  expr::Scope scope;
  // A `with` value that cannot be rendered: where, and why.
  std::optional<expr::RenderError> error;
  const model::IncludeScope* error_in = nullptr;
  model::Mark error_mark;

  StepScope() = default;
  StepScope(const StepScope&) = delete;
  StepScope& operator=(const StepScope&) = delete;

  void make(const expr::Scope& top, const model::IncludeScope* inc) {
    scope = top;
    if (!inc) return;
    StepScope parent;
    parent.make(top, inc->parent.get());
    if (parent.error) {
      error = parent.error, error_in = parent.error_in, error_mark = parent.error_mark;
      return;
    }
    for (const auto& in : inc->inputs)
      inputs[in.name] = in.default_value                    ? expr::from_node(*in.default_value)
                        : in.type == model::InputType::Bool ? expr::Value(false)
                        : in.type == model::InputType::Int  ? expr::Value(0)
                                                            : expr::Value(std::string());
    for (const auto& [k, v] : inc->with) {
      auto r = expr::render_node(v, parent.scope, expr::RenderMode::Plain);
      if (r.error) {
        error = r.error, error_in = inc, error_mark = v.mark;
        return;
      }
      inputs[k] = std::move(r.value);
    }
    scope.inputs = &inputs;
    scope.vars = &vars;
    if (top.steps) {
      auto steps = top.steps;
      std::map<std::string, std::string> locals = inc->locals;
      scope.steps = [steps, locals](const std::string& id, const std::string& field, const std::string& key) {
        std::string base = id.substr(0, id.find('['));
        auto it = locals.find(base);
        return steps(it == locals.end() ? id : it->second + id.substr(base.size()), field, key);
      };
    }
  }
};

}  // namespace

Prepared prepare(const model::Playbook& pb, const load::InputSources& sources, load::Diagnostics& diags,
                 const Expansions* recorded) {
  Prepared p;
  p.playbook = &pb;
  p.inputs = load::resolve_inputs(pb, sources, diags);
  if (diags.has_errors()) return p;
  p.vars = load::evaluate_vars(pb, p.inputs, diags);
  if (diags.has_errors()) return p;
  expr::Scope scope;
  scope.inputs = &p.inputs.values;
  scope.vars = &p.vars;
  scope.env = load::process_env;
  p.graph = graph::StepGraph::expanded(pb, [&](const model::Step& st) -> std::optional<std::vector<expr::Value>> {
    StepScope step_scope;
    step_scope.make(scope, st.included.get());
    if (step_scope.error) return std::nullopt;  // reported when the step renders
    auto r = expr::render_node(*st.for_each, step_scope.scope, expr::RenderMode::Plain);
    // A list known only at run time (it reads a step's output): the items the run recorded when it
    // expanded it, or not known yet (ID[*]).
    auto at_run_time = [&]() -> std::optional<std::vector<expr::Value>> {
      if (recorded)
        if (auto it = recorded->find(st.id.value); it != recorded->end()) return it->second;
      return std::nullopt;
    };
    if (r.error || !r.value.is_list()) {
      const std::string& file = st.included ? st.included->file : pb.path;
      if (r.error && !sources.lenient)
        diags.error(file, st.for_each->mark, "for_each of step '" + st.id.value + "': " + r.error->message);
      else if (!r.error && !r.value.is_unknown() && !sources.lenient)
        diags.error(file, st.for_each->mark,
                    "for_each of step '" + st.id.value + "' is a " + expr::type_name(r.value) + ", not a list");
      return r.error ? std::nullopt : at_run_time();
    }
    for (const auto& item : r.value.list())
      if (expr::contains_unknown(item)) return at_run_time();
    return r.value.list();
  });
  return p;
}

namespace {

struct Renderer {
  const RenderContext& ctx;
  const model::Playbook& pb;
  load::Diagnostics& diags;
  const std::string& step_id;
  expr::Scope scope;
  const std::string* file = &pb.path;  // where the texts it renders are written
  const std::string* source = &pb.source;

  bool unsafe = false;  // the injection guard refused a value

  void report(const model::Text& where, const expr::RenderError& err) {
    if (err.injection) unsafe = true;
    load::SourceMap map(*source);
    std::string msg = "step '" + step_id + "': " + err.message;
    if (!err.injection && err.expression.find("${{") == 0)
      msg = "step '" + step_id + "': in " + err.expression + ": " + err.message;
    diags.error(*file, map.locate(where, err.offset), msg);
  }

  std::optional<expr::Value> text(const model::Text& t, expr::RenderMode mode) {
    if (!t.given) return expr::Value(std::string());
    auto r = expr::render(t.value, scope, mode);
    if (r.error) {
      report(t, *r.error);
      return std::nullopt;
    }
    return r.value;
  }

  // An `if`: one expression, with or without ${{ }}. nullopt: known at run time (or an error).
  std::optional<bool> condition(const model::Text& t, bool& failed) {
    if (!t.given) return true;
    std::string text = t.value;
    std::size_t base = 0;
    if (text.find("${{") != std::string::npos) {
      auto parsed = expr::parse_template(text);
      if (parsed.error || !parsed.tmpl.single_expr()) {
        failed = true;
        return std::nullopt;
      }
      base = parsed.tmpl.parts[0].offset;
      text = parsed.tmpl.parts[0].text;
    }
    auto p = expr::parse(text);
    if (p.error) {
      failed = true;
      report(t, {p.error->message, text, base + p.error->offset, false});
      return std::nullopt;
    }
    auto v = expr::evaluate(*p.expr, scope);
    if (v.error) {
      failed = true;
      report(t, {v.error->message, text, base + v.error->offset, false});
      return std::nullopt;
    }
    if (v.value.is_unknown()) return std::nullopt;
    return expr::truthy(v.value);
  }
};

std::string resolve_workdir(const model::Playbook& pb, const std::string& workdir) {
  fs::path base = fs::path(pb.path).parent_path();
  fs::path wd = workdir.empty() ? fs::path(".") : fs::path(workdir);
  fs::path full = wd.is_absolute() ? wd : base / wd;
  std::string out = full.lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out.empty() ? "." : out;
}

}  // namespace

PlannedStep render_step(const RenderContext& ctx, graph::Vertex v, load::Diagnostics& diags) {
  const Prepared& prep = *ctx.prepared;
  const model::Playbook& pb = *prep.playbook;
  const graph::StepNode& node = prep.graph.node(v);
  const model::Step& st = *node.step;
  PlannedStep out;
  out.vertex = v;
  out.id = node.id;
  out.step = &st;
  out.phase = node.phase;
  for (auto d : prep.graph.dependencies(v)) out.needs.push_back(prep.graph.node(d).id);

  expr::Value unknown_item = expr::Unknown{"item"};
  // `top`: the playbook's scope, for what the playbook writes (its defaults, a phase's `if`);
  // `r`: the step's own, for what the step writes (a library's step: its library's scope).
  Renderer top{ctx, pb, diags, node.id, {}};
  top.scope.inputs = &prep.inputs.values;
  top.scope.vars = &prep.vars;
  top.scope.steps = ctx.steps;
  top.scope.env = load::process_env;
  top.scope.run_id = ctx.run_id;
  if (node.item)
    top.scope.item = &*node.item;
  else if (node.unexpanded)
    top.scope.item = &unknown_item;
  StepScope step_scope;
  step_scope.make(top.scope, st.included.get());
  Renderer r{ctx, pb, diags, node.id, step_scope.scope};
  if (st.included) r.file = &st.included->file, r.source = &st.included->source;

  const std::size_t errors_before = diags.error_count();
  if (step_scope.error) {  // a `with` of its include cannot be rendered: positioned where it is written
    const model::IncludeScope* at = step_scope.error_in;
    load::SourceMap map(at->with_source);
    diags.error(at->with_file, map.locate(model::Text{"", step_scope.error_mark, true}, 0),
                "step '" + node.id + "': in the with of include '" + at->id + "': " + step_scope.error->message);
    out.render_failed = true;
    return out;
  }
  bool failed = false;
  std::optional<bool> phase_ok = top.condition(node.phase->if_expr, failed);
  std::optional<bool> step_ok = r.condition(st.if_expr, failed);
  if (phase_ok == false) {
    out.condition = false;
    out.condition_text = "phase if: " + node.phase->if_expr.value;
  } else if (step_ok == false) {
    out.condition = false;
    out.condition_text = "if: " + st.if_expr.value;
  } else if (phase_ok && step_ok) {
    out.condition = true;
  } else {
    out.condition_text = "if: " + (step_ok ? node.phase->if_expr.value : st.if_expr.value);
  }
  out.gate = st.action == model::ActionKind::Manual;
  out.irreversible = st.irreversible;
  // `if` comes before rendering (SPEC §4): a step that will not run is not rendered, so what it
  // would have read (an output of a step that was skipped too, say) cannot fail it.
  if (out.condition == false) {
    out.action.kind = st.action;
    out.action.uses = st.uses.value;
    out.irreversible = irreversible(prep, st, r.scope.item, nullptr);
    out.render_failed = diags.error_count() > errors_before;
    return out;
  }

  out.action.kind = st.action;
  out.shell = st.shell.given ? st.shell.value : pb.defaults.shell.given ? pb.defaults.shell.value : "bash";
  auto w = st.workdir.given ? r.text(st.workdir, expr::RenderMode::Plain)
                            : top.text(pb.defaults.workdir, expr::RenderMode::Plain);
  if (w) out.workdir = resolve_workdir(pb, expr::to_string(*w));
  switch (st.action) {
    case model::ActionKind::Run:
      if (auto s = r.text(st.run, expr::RenderMode::Shell)) out.action.script = expr::to_string(*s);
      break;
    case model::ActionKind::Manual:
      if (auto s = r.text(st.manual, expr::RenderMode::Plain)) out.action.text = expr::to_string(*s);
      break;
    case model::ActionKind::Uses: {
      out.action.uses = st.uses.value;
      if (st.with) {
        auto with = expr::render_node(*st.with, r.scope, expr::RenderMode::Plain);
        if (with.error)
          diags.error(*r.file, st.with->mark, "step '" + node.id + "': " + with.error->message);
        else
          out.action.with = std::move(with.value);
      }
      out.irreversible = irreversible(prep, st, r.scope.item, &out.action.with);
      break;
    }
    case model::ActionKind::None:
      break;
  }
  // Shell text that runs besides the action is guarded too, so a bad value stops the run before it starts.
  auto shell_text = [&](const model::Text& t) {
    auto text = r.text(t, expr::RenderMode::Shell);
    return text ? expr::to_string(*text) : std::string();
  };
  out.done_if = shell_text(st.done_if);
  out.verify = shell_text(st.verify);
  for (const auto& pre : st.preconditions) {
    auto msg = r.text(pre.message, expr::RenderMode::Plain);
    out.preconditions.emplace_back(shell_text(pre.run), msg ? expr::to_string(*msg) : std::string());
  }
  auto add_env = [&](Renderer& in, const std::vector<std::pair<std::string, model::Text>>& vars) {
    for (const auto& [k, t] : vars)
      if (auto value = in.text(t, expr::RenderMode::Plain)) out.env.emplace_back(k, expr::to_string(*value));
  };
  add_env(top, pb.defaults.env);
  add_env(r, st.env);
  if (top.unsafe) r.unsafe = true;
  out.timeout = st.timeout.value_or(pb.defaults.timeout.value_or(std::chrono::milliseconds(0)));
  out.retry = st.retry.value_or(pb.defaults.retry.value_or(model::Retry{}));
  out.render_failed = diags.error_count() > errors_before;
  out.render_unsafe = r.unsafe || top.unsafe;
  return out;
}

bool irreversible(const Prepared& prep, const model::Step& st, const expr::Value* item, const expr::Value* with) {
  if (st.irreversible) return true;
  if (st.uses.value != "git.tag") return false;
  auto pushes = [](const expr::Value& remote) { return remote.is_unknown() || !expr::to_string(remote).empty(); };
  if (with) {
    const expr::Value* remote = with->field("remote");
    return remote && pushes(*remote);
  }
  if (!st.with) return false;
  expr::Scope top;
  top.inputs = &prep.inputs.values;
  top.vars = &prep.vars;
  top.env = load::process_env;
  top.item = item;
  StepScope step_scope;
  step_scope.make(top, st.included.get());
  if (step_scope.error) return true;  // what cannot be rendered yet may push
  for (const auto& [k, v] : st.with->entries) {
    if (k != "remote") continue;
    auto r = expr::render_node(v, step_scope.scope, expr::RenderMode::Plain);
    return r.error || pushes(r.value);  // what cannot be rendered yet may push
  }
  return false;
}

std::optional<std::vector<expr::Value>> for_each_items(const RenderContext& ctx, graph::Vertex v,
                                                       load::Diagnostics& diags) {
  const Prepared& prep = *ctx.prepared;
  const model::Playbook& pb = *prep.playbook;
  const graph::StepNode& node = prep.graph.node(v);
  const model::Step& st = *node.step;
  expr::Scope scope;
  scope.inputs = &prep.inputs.values;
  scope.vars = &prep.vars;
  scope.steps = ctx.steps;
  scope.env = load::process_env;
  scope.run_id = ctx.run_id;
  auto fail = [&](const std::string& msg) -> std::optional<std::vector<expr::Value>> {
    diags.error(st.included ? st.included->file : pb.path, st.for_each->mark,
                "step '" + node.id + "': for_each: " + msg);
    return std::nullopt;
  };
  StepScope step_scope;
  step_scope.make(scope, st.included.get());
  if (step_scope.error)
    return fail("in the with of include '" + step_scope.error_in->id + "': " + step_scope.error->message);
  auto r = expr::render_node(*st.for_each, step_scope.scope, expr::RenderMode::Plain);
  if (r.error) return fail((r.error->expression.empty() ? "" : "in " + r.error->expression + ": ") + r.error->message);
  if (r.value.is_unknown() || expr::contains_unknown(r.value)) return fail("its list is still not known");
  if (!r.value.is_list())
    return fail("gave a " + std::string(expr::type_name(r.value)) + ", not a list: " + expr::to_string(r.value));
  std::set<std::string> ids;
  const auto& items = r.value.list();
  for (std::size_t i = 0; i < items.size(); ++i)
    if (!ids.insert(graph::StepGraph::instance_id(st.id.value, items[i], i)).second)
      return fail("lists '" + expr::to_string(items[i]) + "' twice");
  return items;
}

Plan make_plan(const Prepared& prep, const Selection& sel, load::Diagnostics& diags) {
  Plan plan;
  const auto& g = prep.graph;
  const model::Playbook& pb = *prep.playbook;
  auto order = g.topological_order();
  RenderContext ctx{&prep, nullptr, ""};
  // At plan time no step has run: outputs and statuses are unknown, not errors.
  ctx.steps = [&](const std::string& id, const std::string& field,
                  const std::string& key) -> std::optional<expr::Value> {
    bool known = g.find(id).has_value();
    // ID, or ID[ITEM] of a for_each whose instances are only known at run time.
    std::string base = id.substr(0, id.find('['));
    for (const auto& ph : pb.phases)
      for (const auto& st : ph.steps)
        if (st.id.value == id || (st.for_each && st.id.value == base)) known = true;
    if (!known) return std::nullopt;
    return expr::Value(expr::Unknown{"steps." + id + "." + field + (key.empty() ? "" : "." + key)});
  };

  std::vector<bool> selected(g.size(), true);
  std::vector<std::string> reason(g.size());
  std::vector<bool> satisfied(g.size(), false);  // treated as done (before --from)
  if (!sel.from.empty()) {
    std::vector<graph::Vertex> starts;
    if (auto v = g.find(sel.from)) starts.push_back(*v);
    for (graph::Vertex v = 0; v < g.size(); ++v)
      if (g.node(v).step->id.value == sel.from && g.node(v).step->for_each) starts.push_back(v);
    if (starts.empty()) {
      std::vector<std::string> ids;
      for (graph::Vertex v = 0; v < g.size(); ++v) ids.push_back(g.node(v).id);
      std::string msg = "--from: unknown step '" + sel.from + "'";
      if (auto best = load::closest(sel.from, ids); !best.empty()) msg += " (did you mean '" + best + "'?)";
      diags.error("", {}, msg);
      return plan;
    }
    std::vector<bool> downstream(g.size(), false);
    std::vector<graph::Vertex> work = starts;
    for (auto s : starts) downstream[s] = true;
    while (!work.empty()) {
      auto v = work.back();
      work.pop_back();
      for (auto w : g.dependents(v))
        if (!downstream[w]) downstream[w] = true, work.push_back(w);
    }
    for (graph::Vertex v = 0; v < g.size(); ++v)
      if (!downstream[v])
        selected[v] = false, satisfied[v] = true, reason[v] = "treated as done (before --from " + sel.from + ")";
  }
  if (!sel.phases.empty()) {
    std::set<std::string> wanted;
    std::vector<std::string> phase_ids;
    for (const auto& ph : pb.phases) phase_ids.push_back(ph.id.value);
    for (const auto& p : sel.phases) {
      if (std::find(phase_ids.begin(), phase_ids.end(), p) == phase_ids.end()) {
        std::string msg = "--phase: unknown phase '" + p + "'";
        if (auto best = load::closest(p, phase_ids); !best.empty()) msg += " (did you mean '" + best + "'?)";
        diags.error("", {}, msg);
      }
      wanted.insert(p);
    }
    if (diags.has_errors()) return plan;
    for (graph::Vertex v = 0; v < g.size(); ++v)
      if (selected[v] && !wanted.count(g.node(v).phase->id.value)) selected[v] = false, reason[v] = "not in --phase";
    // Dependencies outside the selection: run them too (--with-deps) or refuse.
    std::vector<graph::Vertex> work;
    for (graph::Vertex v = 0; v < g.size(); ++v)
      if (selected[v]) work.push_back(v);
    std::set<std::string> missing;
    while (!work.empty()) {
      auto v = work.back();
      work.pop_back();
      for (auto d : g.dependencies(v)) {
        if (selected[d] || satisfied[d]) continue;
        if (sel.with_deps) {
          selected[d] = true;
          reason[d].clear();
          work.push_back(d);
        } else {
          missing.insert(g.node(d).id);
        }
      }
    }
    if (!missing.empty()) {
      std::string list;
      std::size_t shown = 0;
      for (const auto& m : missing)
        if (shown++ < 5) list += (list.empty() ? "" : ", ") + m;
      if (missing.size() > 5) list += ", ... (" + std::to_string(missing.size()) + " in all)";
      diags.error("", {},
                  "the selected phases depend on steps outside them: " + list +
                      "; add --with-deps to run those too, or --from STEP to treat earlier steps as done");
      return plan;
    }
  }
  for (auto v : order) {
    PlannedStep ps = render_step(ctx, v, diags);
    ps.selected = selected[v];
    ps.unselected_reason = reason[v];
    plan.steps.push_back(std::move(ps));
  }
  return plan;
}

std::string fingerprint(const PlannedStep& s) {
  // FNV-1a over a canonical JSON text: stable across builds and machines.
  nlohmann::ordered_json j;
  j["kind"] = static_cast<int>(s.action.kind);
  j["script"] = s.action.script;
  j["uses"] = s.action.uses;
  j["with"] = expr::to_json(s.action.with);
  j["manual"] = s.action.text;
  j["workdir"] = s.workdir;
  j["shell"] = s.shell;
  j["done_if"] = s.done_if;
  j["verify"] = s.verify;
  j["preconditions"] = s.preconditions;
  j["env"] = s.env;
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : j.dump()) h = (h ^ c) * 1099511628211ULL;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

std::string indent(const std::string& text, const std::string& prefix) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out += prefix + line + "\n";
  return out;
}

std::string action_label(const PlannedStep& s) {
  switch (s.action.kind) {
    case model::ActionKind::Run:
      return "run";
    case model::ActionKind::Uses:
      return "uses " + s.action.uses;
    case model::ActionKind::Manual:
      return "manual";
    case model::ActionKind::None:
      break;
  }
  return "";
}

std::string marks(bool gate, bool irreversible) {
  std::string out;
  if (gate) out += " [gate]";
  if (irreversible) out += " [irreversible]";
  return out;
}

}  // namespace

void print_plan(std::ostream& out, const Prepared& prep, const Plan& plan) {
  const model::Playbook& pb = *prep.playbook;
  std::size_t will_run = 0;
  for (const auto& s : plan.steps)
    if (s.selected && s.condition != false) ++will_run;
  out << "Plan for " << pb.name.value << " (" << pb.path << "): " << will_run << " of " << plan.steps.size()
      << " steps would run\n";
  auto inputs = prep.inputs.public_values();
  if (!inputs.empty() || !prep.inputs.secret_names.empty()) {
    out << "Inputs:";
    for (const auto& in : pb.inputs) {
      if (prep.inputs.secret_names.count(in.name))
        out << " " << in.name << "=***";
      else if (inputs.count(in.name))
        out << " " << in.name << "=" << inputs[in.name];
    }
    out << "\n";
  }
  // Grouped by phase in playbook order; inside a phase, in execution order.
  std::size_t number = 0;
  std::vector<std::size_t> position(plan.steps.size());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) position[i] = ++number;
  for (const auto& ph : pb.phases) {
    out << "\nPhase " << ph.id.value;
    if (ph.name.given) out << ": " << ph.name.value;
    out << "\n";
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      const PlannedStep& s = plan.steps[i];
      if (s.phase != &ph) continue;
      out << "  " << position[i] << ". " << s.id;
      if (s.step->name.given) out << " — " << prep.inputs.mask(s.step->name.value);
      out << "  (" << action_label(s) << ")" << marks(s.gate, s.irreversible) << "\n";
      if (!s.selected) {
        out << "       skip: " << s.unselected_reason << "\n";
        continue;
      }
      if (s.condition == false) {
        out << "       skip: condition false (" << s.condition_text << ")\n";
        continue;
      }
      if (!s.condition) out << "       runs if " << s.condition_text << " (known at run time)\n";
      if (prep.graph.node(s.vertex).unexpanded)
        out << "       instances known at run time: for_each " << s.step->for_each->scalar << "\n";
      if (!s.needs.empty()) {
        out << "       after:";
        std::size_t shown = 0;
        for (const auto& n : s.needs)
          if (shown++ < 6) out << " " << n;
        if (s.needs.size() > 6) out << " ... (" << s.needs.size() << ")";
        out << "\n";
      }
      switch (s.action.kind) {
        case model::ActionKind::Run:
          out << "       in " << s.workdir << " (" << s.shell << "):\n"
              << indent(prep.inputs.mask(s.action.script), "         $ ");
          break;
        case model::ActionKind::Uses:
          if (s.action.with.is_map())
            for (const auto& [k, v] : s.action.with.map())
              out << "         " << k << ": " << prep.inputs.mask(expr::to_string(v)) << "\n";
          break;
        case model::ActionKind::Manual:
          out << indent(prep.inputs.mask(s.action.text), "         > ");
          break;
        case model::ActionKind::None:
          break;
      }
    }
  }
}

nlohmann::ordered_json plan_json(const Prepared& prep, const Plan& plan) {
  using json = nlohmann::ordered_json;
  const model::Playbook& pb = *prep.playbook;
  json out;
  out["playbook"] = pb.path;
  out["name"] = pb.name.value;
  json inputs = json::object();
  for (const auto& [k, v] : prep.inputs.public_values()) inputs[k] = v;
  out["inputs"] = inputs;
  json phases = json::array();
  for (const auto& ph : pb.phases) {
    json p;
    p["id"] = ph.id.value;
    p["name"] = ph.name.value;
    json ids = json::array();
    for (const auto& s : plan.steps)
      if (s.phase == &ph) ids.push_back(s.id);
    p["steps"] = ids;
    phases.push_back(p);
  }
  out["phases"] = phases;
  json steps = json::array();
  std::size_t order = 0;
  for (const auto& s : plan.steps) {
    json j;
    j["order"] = ++order;
    j["id"] = s.id;
    j["step"] = s.step->id.value;
    j["phase"] = s.phase->id.value;
    j["name"] = prep.inputs.mask(s.step->name.value);
    j["needs"] = s.needs;
    j["selected"] = s.selected;
    j["condition"] = s.condition ? json(*s.condition) : json(nullptr);
    j["will_run"] = s.selected && s.condition != false;
    std::string skip = !s.selected ? s.unselected_reason : s.condition == false ? "condition" : "";
    j["skip_reason"] = skip.empty() ? json(nullptr) : json(skip);
    j["gate"] = s.gate;
    j["irreversible"] = s.irreversible;
    // A for_each whose list is only known at run time: this entry stands for all its instances.
    if (prep.graph.node(s.vertex).unexpanded) j["instances"] = "known at run time";
    json action;
    switch (s.action.kind) {
      case model::ActionKind::Run:
        action = {
            {"kind", "run"}, {"shell", s.shell}, {"workdir", s.workdir}, {"script", prep.inputs.mask(s.action.script)}};
        break;
      case model::ActionKind::Uses:
        action = {{"kind", "uses"},
                  {"uses", s.action.uses},
                  {"workdir", s.workdir},
                  {"with", json::parse(prep.inputs.mask(expr::to_json(s.action.with)))}};
        break;
      case model::ActionKind::Manual:
        action = {{"kind", "manual"}, {"text", prep.inputs.mask(s.action.text)}};
        break;
      case model::ActionKind::None:
        break;
    }
    j["action"] = action;
    steps.push_back(j);
  }
  out["steps"] = steps;
  return out;
}

void print_list(std::ostream& out, const Prepared& prep) {
  const model::Playbook& pb = *prep.playbook;
  const auto& g = prep.graph;
  std::size_t steps = 0;
  for (const auto& ph : pb.phases) steps += ph.steps.size();
  out << pb.name.value;
  if (pb.description.given) out << " — " << pb.description.value;
  out << "\n" << pb.phases.size() << " phases, " << steps << " steps (" << g.size() << " after for_each)\n";
  if (!pb.inputs.empty()) {
    out << "\nInputs:\n";
    for (const auto& in : pb.inputs) {
      out << "  " << in.name << " ("
          << (in.type == model::InputType::Bool  ? "bool"
              : in.type == model::InputType::Int ? "int"
                                                 : "string")
          << (in.required ? ", required" : "") << (in.secret ? ", secret from $" + in.env : "")
          << (in.default_value ? ", default '" + in.default_value->scalar + "'" : "") << ")";
      if (!in.description.empty()) out << "  " << in.description;
      out << "\n";
    }
  }
  for (const auto& ph : pb.phases) {
    out << "\n" << ph.id.value;
    if (ph.name.given) out << " — " << ph.name.value;
    if (ph.if_expr.given) out << "  (if " << ph.if_expr.value << ")";
    out << "\n";
    if (ph.description.given) out << "    " << ph.description.value << "\n";
    for (const auto& st : ph.steps) {
      expr::Value any_item = expr::Unknown{"item"};
      bool may_push = irreversible(prep, st, st.for_each ? &any_item : nullptr, nullptr);
      out << "  - " << st.id.value;
      if (st.name.given) out << " — " << st.name.value;
      std::string kind = st.action == model::ActionKind::Run    ? "run"
                         : st.action == model::ActionKind::Uses ? "uses " + st.uses.value
                                                                : "manual";
      out << "  (" << kind << ")" << marks(st.action == model::ActionKind::Manual, may_push) << "\n";
      if (st.description.given) out << "      " << st.description.value << "\n";
      if (st.for_each) {
        std::vector<std::string> ids;
        for (graph::Vertex v = 0; v < g.size(); ++v)
          if (g.node(v).step == &st) ids.push_back(g.node(v).id);
        out << "      for each: ";
        for (std::size_t i = 0; i < ids.size(); ++i) out << (i ? ", " : "") << ids[i];
        out << "\n";
      }
    }
  }
}

}  // namespace relengine::plan
