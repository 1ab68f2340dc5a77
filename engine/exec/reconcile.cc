#include "exec/reconcile.h"

#include <map>

namespace relengine::exec {

using state::StepRecord;
using state::StepStatus;

namespace {

void clear_approval(StepRecord& r) {
  r.approved_by.clear();
  r.approved_at.clear();
  r.approval_note.clear();
  r.auto_approved = false;
  r.approved_fingerprint.clear();
}

}  // namespace

Reconciliation reconcile(const ReconcileInput& in) {
  Reconciliation out;
  const plan::Prepared& prep = *in.prepared;
  std::map<std::string, StepRecord> recorded;
  for (const auto& r : *in.recorded) recorded[r.id] = r;

  // Steps render with what the run recorded: a step's fingerprint now, to compare with the one it
  // ran with or was approved for.
  plan::RenderContext ctx;
  ctx.prepared = &prep;
  ctx.run_id = in.run_id;
  ctx.steps = [&](const std::string& id, const std::string& field,
                  const std::string& key) -> std::optional<expr::Value> {
    auto it = recorded.find(id);
    if (it == recorded.end()) return std::nullopt;
    if (field == "status") return expr::Value(std::string(state::name(it->second.status)));
    auto o = it->second.outputs.find(key);
    if (o == it->second.outputs.end()) throw expr::ExprError{"no output " + key, 0};
    return expr::Value(o->second);
  };
  auto fingerprint_now = [&](graph::Vertex v) -> std::optional<std::string> {
    load::Diagnostics ignored;
    auto rendered = plan::render_step(ctx, v, ignored);
    if (rendered.render_failed) return std::nullopt;
    return plan::fingerprint(rendered);
  };

  int order = 0;
  for (const auto& ps : in.plan->steps) {
    StepRecord r;
    auto known_it = recorded.find(ps.id);
    bool known = known_it != recorded.end();
    if (known)
      r = known_it->second;
    else
      r.id = ps.id, r.step = ps.step->id.value, r.phase = ps.phase->id.value;
    const StepRecord before = r;
    r.order = order++;
    std::string why;
    if (!known) {
      why = "new step";
      r.status = ps.selected ? StepStatus::Pending : StepStatus::Skipped;
      r.reason = ps.selected ? "" : "selection";
    } else if (!ps.selected) {
      // Outside the selection: what has not started stays out of it; what a part of the run selected
      // before did (a run continued one phase at a time, `run --run-id`) keeps its record.
      if (r.status == StepStatus::Pending || r.status == StepStatus::Running ||
          (r.status == StepStatus::Skipped && r.reason == "selection"))
        r.status = StepStatus::Skipped, r.reason = "selection", r.message = ps.unselected_reason;
    } else if (r.status == StepStatus::Skipped && r.reason == "selection") {
      why = "selected now";
      r.message.clear();
    } else if (in.rerun.count(ps.vertex)) {
      why = "rerun";
      clear_approval(r);  // a repeated gate is confirmed again
    } else if (r.status == StepStatus::Running && in.driven_elsewhere) {
      why = "running (driven by another process)";
    } else if (r.status == StepStatus::Running) {
      why = "interrupted (its driver died)";
      r.status = StepStatus::Interrupted;
      r.message = "interrupted: the engine stopped while it ran";
      out.writes.push_back({r, "interrupted", r.message});
    } else if (r.status == StepStatus::Failed || r.status == StepStatus::Interrupted ||
               r.status == StepStatus::Cancelled || r.status == StepStatus::Pending) {
      why = state::name(r.status);
    } else if (r.status == StepStatus::Skipped && r.reason == "condition") {
      why = "condition re-evaluated";
    } else if ((r.status == StepStatus::Succeeded || (r.status == StepStatus::Skipped && r.reason != "selection")) &&
               !r.fingerprint.empty()) {
      auto now = fingerprint_now(ps.vertex);
      if (!now || *now != r.fingerprint) why = "changed since it ran";
    }

    // An approval approves one thing: what the step was when it was approved. If it will run (or
    // still waits) and renders differently now, the approval is void and it asks again.
    bool will_run = (!why.empty() && why != "running (driven by another process)") || r.status == StepStatus::Waiting;
    if (will_run && !r.approved_by.empty() && !r.approved_fingerprint.empty()) {
      auto now = fingerprint_now(ps.vertex);
      if (now && *now != r.approved_fingerprint) {
        out.voided.push_back("approval of " + r.id + " by " + r.approved_by +
                             " voided: its command changed since it was approved");
        clear_approval(r);
        if (r.status == StepStatus::Succeeded || r.status == StepStatus::Skipped) r.message.clear();
      }
    }

    if (why == "running (driven by another process)") {
      out.to_run.emplace_back(r.id, why);
    } else if (!why.empty() && r.status != StepStatus::Waiting) {
      if (known) r.status = StepStatus::Pending, r.reason.clear();
      if (why == "pending")
        ++out.not_started;
      else
        out.to_run.emplace_back(r.id, why);
    } else if (r.status == StepStatus::Waiting) {
      out.to_run.emplace_back(r.id, r.approved_by.empty() ? "waiting for approval" : "approved by " + r.approved_by);
    }

    if (!known)
      out.writes.push_back({r, "added", ""});
    else if (before.status != r.status || before.approved_by != r.approved_by)
      out.writes.push_back({r, "reset", ""});
    else if (before.order != r.order)
      out.writes.push_back({r, "", ""});
    out.records.push_back(std::move(r));
  }

  std::set<std::string> current;
  for (const auto& r : out.records) current.insert(r.id);
  for (const auto& [id, r] : recorded)
    if (!current.count(id))
      out.removed.emplace_back(id, in.reexpand.count(r.step) ? "its for_each is expanded again after the rerun"
                                                             : "no longer in the playbook");
  return out;
}

void print_reconciliation(std::ostream& out, const state::RunRecord& run, const Reconciliation& r) {
  out << "Resuming run " << run.id << " (" << run.name << ", " << state::name(run.status) << ")\n";
  for (const auto& [id, why] : r.removed) out << "  drop " << id << " (" << why << ")\n";
  for (const auto& v : r.voided) out << "  " << v << "\n";
  if (r.to_run.empty() && r.not_started == 0) out << "  nothing left to run\n";
  for (const auto& [id, why] : r.to_run) out << "  run  " << id << " (" << why << ")\n";
  if (r.not_started)
    out << "  then " << r.not_started << " step" << (r.not_started == 1 ? "" : "s") << " not started yet\n";
}

}  // namespace relengine::exec
