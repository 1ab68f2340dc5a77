#include "exec/session.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "exec/reconcile.h"
#include "graph/step_graph.h"
#include "load/loader.h"
#include "log/engine_log.h"
#include "model/exit_code.h"
#include "plan/playbook_file.h"
#include "state/pg_store.h"
#include "state/store.h"

namespace relengine::exec {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using state::StepRecord;
using state::StepStatus;

namespace {

constexpr int kBad = kBadInput, kState = kStateProblem;

std::string make_run_id() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", rd() & 0xffff);
  return std::string(buf) + "-" + suffix;
}

std::string selection_json(const plan::Selection& sel) {
  nlohmann::json j;
  j["phases"] = sel.phases;
  j["from"] = sel.from;
  j["with_deps"] = sel.with_deps;
  return j.dump();
}

plan::Selection selection_from_json(const std::string& text) {
  plan::Selection sel;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return sel;
  if (j.contains("phases")) sel.phases = j["phases"].get<std::vector<std::string>>();
  if (j.contains("from")) sel.from = j["from"].get<std::string>();
  if (j.contains("with_deps")) sel.with_deps = j["with_deps"].get<bool>();
  return sel;
}

int report_diags(const load::Diagnostics& diags) { return plan::report(diags, std::cerr); }

// The playbook, or nullopt after printing its problems. `run`: the run being resumed (the bytes it
// validated need not go through the structural checks again).
std::optional<model::Playbook> load_checked(const std::string& path, const state::RunRecord* run = nullptr) {
  load::Diagnostics diags;
  plan::KnownValid known;
  if (run) known = {run->playbook_hash, run->validated_by};
  auto pb = plan::load_checked(path, diags, run ? &known : nullptr);
  if (!pb) report_diags(diags);
  return pb;
}

// Every step rendered once with what is known now: an unsafe value stops the run before anything runs.
// Where the engine's own log of a run goes: $RELENGINE_LOG_DIR, else the logs directory of the
// state directory, else (a PostgreSQL store, which has no directory) .relengine/logs.
fs::path engine_log_file(const std::string& location, const std::string& run_id) {
  fs::path dir;
  if (const char* d = std::getenv("RELENGINE_LOG_DIR"); d && *d)
    dir = d;
  else if (!state::is_postgres_url(location))
    dir = fs::path(location) / "logs";
  else
    dir = ".relengine/logs";
  return dir / (run_id + ".engine.log");
}

// The engine's own log of this run (docs/engine-log.md), open while this lives. A log that cannot
// be opened is said once; the run goes on without it.
class EngineLogScope {
 public:
  EngineLogScope(const englog::Settings& settings, const std::string& location, const std::string& run_id,
                 const load::SecretMasker& masker) {
    std::string error;
    auto file = engine_log_file(location, run_id);
    if (!englog::open(
            file, settings, [masker](std::string_view text) { return masker.mask(text); }, error))
      std::cerr << "relengine: the engine's log " << file.string() << " cannot be written (" << error
                << "); going on without it\n";
  }
  ~EngineLogScope() { englog::close(); }
  EngineLogScope(const EngineLogScope&) = delete;
  EngineLogScope& operator=(const EngineLogScope&) = delete;
};

bool prerender(const plan::Prepared& prep, const plan::Selection& sel, plan::Plan& plan) {
  load::Diagnostics diags;
  plan = plan::make_plan(prep, sel, diags);
  if (diags.has_errors()) {
    report_diags(diags);
    return false;
  }
  return true;
}

}  // namespace

bool valid_run_id(const std::string& id) {
  if (id.empty() || id.size() > 100 || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool create_new_run(state::RunStore& store, state::RunRecord& run, const std::vector<state::StepRecord>& records,
                    const std::function<std::string()>& make_id) {
  if (!make_id) return store.create_run(run, records);
  // A made id can be one another driver made in the same second (its suffix is 16 bits): the
  // next one is tried.
  for (int tries = 0; tries < 100; ++tries) {
    run.id = make_id();
    if (store.create_run(run, records)) return true;
  }
  return false;
}

int start_run(const std::string& playbook_path, const load::InputSources& inputs, const plan::Selection& selection,
              const RunOptions& opt) {
  englog::Settings log_settings;
  if (std::string error; !englog::settings(opt.log_level, log_settings, error)) {
    std::cerr << "relengine: " << error << "\n";
    return kBad;
  }
  if (!opt.run_id.empty() && !valid_run_id(opt.run_id)) {
    std::cerr << "relengine: --run-id '" << load::escape_control(opt.run_id)
              << "': a run id is letters, digits, '.', '_' and '-' (at most 100, starting with a letter or digit)\n";
    return kBad;
  }
  // A run id that names an existing run: continue it, with this selection (one phase at a time).
  auto continue_run = [&] {
    ResumeRequest req;
    req.run_id = opt.run_id;
    req.sets = inputs.sets;
    req.playbook = playbook_path;
    req.selection = selection;
    req.inputs_file = inputs.inputs_file;
    return resume_run(req, opt);
  };
  if (!opt.run_id.empty()) {
    try {
      std::unique_ptr<state::RunStore> existing;
      try {
        existing = state::open_store(opt.state_dir, state::OpenMode::ForReading);
      } catch (const state::StateNotFound&) {
      }
      if (existing && existing->find_run(opt.run_id)) {
        existing.reset();
        return continue_run();
      }
    } catch (const state::StateError& e) {
      std::cerr << "relengine: " << e.what() << "\n";
      return kState;
    }
  }
  auto pb = load_checked(playbook_path);
  if (!pb) return kBad;
  load::Diagnostics diags;
  auto prep = plan::prepare(*pb, inputs, diags);
  if (diags.has_errors()) return report_diags(diags);
  plan::Plan plan;
  if (!prerender(prep, selection, plan)) return kBad;
  if (opt.dry_run) {
    std::cout << "Dry run: every action rendered, nothing executed, no state written.\n\n";
    plan::print_plan(std::cout, prep, plan);
    return kOk;
  }
  try {
    auto store = state::open_store(opt.state_dir, state::OpenMode::Create);
    state::RunRecord run;
    run.id = opt.run_id;
    run.playbook = playbook_path;
    run.playbook_path = fs::absolute(playbook_path).lexically_normal().string();
    run.playbook_hash = load::content_hash(pb->source);
    run.validated_by = load::validator_id();
    run.name = pb->name.value;
    run.inputs = prep.inputs.public_values();
    run.started = state::now_rfc3339();
    run.selection = selection_json(selection);
    std::vector<StepRecord> records;
    int order = 0;
    for (const auto& ps : plan.steps) {
      StepRecord r;
      r.id = ps.id;
      r.step = ps.step->id.value;
      r.phase = ps.phase->id.value;
      r.order = order++;
      if (!ps.selected) {
        r.status = StepStatus::Skipped;
        r.reason = "selection";
        r.message = ps.unselected_reason;
      }
      records.push_back(r);
    }
    if (!create_new_run(*store, run, records, opt.run_id.empty() ? make_run_id : std::function<std::string()>())) {
      if (!opt.run_id.empty()) {
        // Another driver created this run a moment ago: continued, as it would be a moment later.
        store.reset();
        return continue_run();
      }
      std::cerr << "relengine: no free run id in " << store->location() << " after 100 tries\n";
      return kState;
    }
    store->acquire_lease(run.id);
    EngineLogScope engine_log(log_settings, opt.state_dir, run.id, prep.inputs.masker());
    englog::info("run {} of {} ({}), {} steps, state in {}, lease taken by pid {} on {}", run.id, run.playbook,
                 run.playbook_hash, records.size(), store->location(), ::getpid(), state::host_name());
    if (!opt.quiet)
      std::cout << "Run " << run.id << ": " << pb->name.value << " (" << plan.steps.size() << " steps), state in "
                << store->location() << "\n";
    asio::io_context io;
    auto runner = make_process_runner(io);
    return build(io, *runner, *store, prep, run, std::move(records), opt);
  } catch (const state::StateError& e) {
    std::cerr << "relengine: " << e.what() << "\n";
    return kState;
  }
}

int resume_run(const ResumeRequest& req, const RunOptions& opt) {
  englog::Settings log_settings;
  if (std::string error; !englog::settings(opt.log_level, log_settings, error)) {
    std::cerr << "relengine: " << error << "\n";
    return kBad;
  }
  try {
    // A dry run reads the state without changing a byte of it (no lease, no migration).
    auto store = state::open_store(opt.state_dir, opt.dry_run ? state::OpenMode::ReadOnly : state::OpenMode::Existing);
    auto run = req.run_id.empty() ? store->latest_run() : store->find_run(req.run_id);
    if (!run) {
      std::cerr << "relengine: "
                << (req.run_id.empty() ? "no runs in " + store->location()
                                       : "no run " + req.run_id + " in " + store->location())
                << "; `relengine runs` lists them\n";
      return kState;
    }
    if (!opt.dry_run) store->acquire_lease(run->id);
    auto release = [&] {
      if (!opt.dry_run) store->release_lease(run->id);
    };
    const bool continued = !req.playbook.empty();  // run --run-id of this run, from this file
    const std::string playbook_path = continued ? req.playbook : run->playbook_path;
    if (!fs::exists(playbook_path)) {
      std::cerr << "relengine: the playbook of run " << run->id << " is gone: " << playbook_path << "\n";
      release();
      return kBad;
    }
    auto pb = load_checked(playbook_path, &*run);
    if (!pb) {
      release();
      return kBad;
    }
    if (continued && pb->name.value != run->name) {
      std::cerr << "relengine: run " << run->id << " is a run of playbook '" << run->name << "', not of '"
                << pb->name.value << "' (" << playbook_path << "); give another --run-id\n";
      release();
      return kBad;
    }
    pb->path = continued ? req.playbook : run->playbook;  // messages name it as the user did
    load::InputSources sources;
    sources.recorded = run->inputs;
    sources.sets = req.sets;
    sources.inputs_file = req.inputs_file;
    load::Diagnostics diags;
    // The for_each lists this run computed at run time: it keeps the instances it had.
    plan::Expansions expansions = plan::parse_expansions(store->expansions(run->id));
    auto prep = plan::prepare(*pb, sources, diags, &expansions);
    if (diags.has_errors()) {
      release();
      return report_diags(diags);
    }
    // The steps --rerun and --rerun-phase reset: those named and everything downstream.
    auto rerun_set = [&](const graph::StepGraph& g) {
      std::set<graph::Vertex> out;
      for (graph::Vertex v = 0; v < g.size(); ++v) {
        const auto& node = g.node(v);
        bool hit =
            std::find(req.rerun.begin(), req.rerun.end(), node.id) != req.rerun.end() ||
            std::find(req.rerun.begin(), req.rerun.end(), node.step->id.value) != req.rerun.end() ||
            std::find(req.rerun_phases.begin(), req.rerun_phases.end(), node.phase->id.value) != req.rerun_phases.end();
        if (!hit) continue;
        std::vector<graph::Vertex> work{v};
        while (!work.empty()) {
          auto w = work.back();
          work.pop_back();
          if (!out.insert(w).second) continue;
          for (auto d : g.dependents(w)) work.push_back(d);
        }
      }
      return out;
    };
    // --rerun of an expanded step, or of a step its list reads (upstream, so the rerun reaches the
    // step too), expands it again from what the rerun produces.
    std::set<std::string> reexpand;
    for (auto v : rerun_set(prep.graph)) {
      const auto& node = prep.graph.node(v);
      if (node.item && expansions.count(node.step->id.value)) reexpand.insert(node.step->id.value);
    }
    if (!reexpand.empty()) {
      for (const auto& st : reexpand) expansions.erase(st);
      prep = plan::prepare(*pb, sources, diags, &expansions);
      if (diags.has_errors()) {
        release();
        return report_diags(diags);
      }
    }
    plan::Selection selection = req.selection ? *req.selection : selection_from_json(run->selection);
    plan::Plan plan;
    if (!prerender(prep, selection, plan)) {
      release();
      return kBad;
    }
    const auto& g = prep.graph;
    for (const auto& s : req.rerun)
      if (!g.find(s) &&
          std::none_of(plan.steps.begin(), plan.steps.end(), [&](const auto& p) { return p.step->id.value == s; })) {
        std::cerr << "relengine: --rerun: unknown step '" << s << "'\n";
        release();
        return kBad;
      }
    for (const auto& p : req.rerun_phases)
      if (std::none_of(pb->phases.begin(), pb->phases.end(), [&](const auto& ph) { return ph.id.value == p; })) {
        std::cerr << "relengine: --rerun-phase: unknown phase '" << p << "'\n";
        release();
        return kBad;
      }

    // What each recorded step becomes: decided purely, printed, and written only by a real
    // resume, which holds the lease by now.
    ReconcileInput rin;
    rin.prepared = &prep;
    rin.plan = &plan;
    auto stored = store->steps(run->id);
    rin.recorded = &stored;
    rin.rerun = rerun_set(g);
    rin.reexpand = reexpand;
    rin.run_id = run->id;
    rin.driven_elsewhere = opt.dry_run && state::lease_held_elsewhere(*run);
    Reconciliation rec = reconcile(rin);
    print_reconciliation(std::cout, *run, rec);
    if (opt.dry_run) return kOk;  // nothing written, anywhere

    EngineLogScope engine_log(log_settings, opt.state_dir, run->id, prep.inputs.masker());
    englog::info("resume of run {} ({}), lease taken by pid {} on {}", run->id, run->playbook, ::getpid(),
                 state::host_name());
    for (const auto& t : rec.writes)
      englog::info("reconcile {}: {}{}", t.step.id,
                   t.transition.empty() ? std::string(state::name(t.step.status)) : t.transition,
                   t.message.empty() ? "" : " (" + t.message + ")");
    for (const auto& [id, why] : rec.removed) englog::info("reconcile {}: removed ({})", id, why);
    for (const auto& st : reexpand) store->forget_expansion(run->id, st);
    for (const auto& [id, why] : rec.removed) store->remove_step(run->id, id);
    store->save_steps(run->id, rec.writes);  // one transaction, not one fsync per step
    store->update_run_inputs(run->id, prep.inputs.public_values(), load::content_hash(pb->source),
                             load::validator_id());
    if (continued)
      store->update_run_selection(run->id, selection_json(selection), req.playbook,
                                  fs::absolute(req.playbook).lexically_normal().string());
    store->set_run_status(run->id, state::RunStatus::Running, false);
    std::vector<StepRecord> records = std::move(rec.records);
    asio::io_context io;
    auto runner = make_process_runner(io);
    return build(io, *runner, *store, prep, *run, std::move(records), opt);
  } catch (const state::StateError& e) {
    std::cerr << "relengine: " << e.what() << "\n";
    return kState;
  }
}

}  // namespace relengine::exec
