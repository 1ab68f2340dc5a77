#include "view/run_graph.h"

#include <fstream>
#include <sstream>

#include "load/loader.h"
#include "plan/playbook_file.h"

namespace relengine::view {

namespace {

// Phases in the order the store has their steps; each step a node; no edges.
render::GraphModel from_store(const state::RunRecord& run, const std::vector<state::StepRecord>& records,
                              const std::string& shown_status) {
  render::GraphModel m;
  m.title = run.name;
  m.playbook = run.playbook;
  m.run_id = run.id;
  m.run_status = shown_status;
  for (const auto& r : records) {
    if (m.phases.empty() || m.phases.back().id != r.phase) {
      bool seen = false;
      for (const auto& p : m.phases) seen = seen || p.id == r.phase;
      if (!seen) m.phases.push_back({r.phase, "", {}});
    }
    render::GraphNode n;
    n.id = r.id;
    n.step = r.id.substr(0, r.id.find('['));
    n.phase = r.phase;
    n.status = state::name(r.status);
    n.reason = r.reason;
    n.message = r.message;
    n.attempts = r.attempts;
    n.started = r.started;
    n.finished = r.finished;
    for (auto& p : m.phases)
      if (p.id == r.phase) p.nodes.push_back(m.nodes.size());
    m.nodes.push_back(n);
  }
  return m;
}

}  // namespace

RunGraph run_graph(state::RunStore& store, const state::RunRecord& run, const std::string& shown_status) {
  auto records = store.steps(run.id);
  RunGraph out;
  std::string path = run.playbook_path.empty() ? run.playbook : run.playbook_path;
  load::Diagnostics diags;
  std::optional<model::Playbook> pb;
  if (std::ifstream probe(path); probe) pb = plan::load_checked(path, diags);
  if (pb) {
    load::InputSources sources;
    sources.lenient = true;
    sources.recorded = run.inputs;
    auto expansions = plan::parse_expansions(store.expansions(run.id));
    load::Diagnostics input_diags;
    auto prepared = plan::prepare(*pb, sources, input_diags, &expansions);
    if (!input_diags.has_errors()) {
      out.model = render::build_graph_model(prepared, &records, run.id, shown_status);
      std::ifstream in(path, std::ios::binary);
      std::ostringstream bytes;
      bytes << in.rdbuf();
      if (load::content_hash(bytes.str()) != run.playbook_hash)
        out.note = "drawn from " + path + ", which has changed since the run recorded it";
      return out;
    }
  }
  out.model = from_store(run, records, shown_status);
  out.note = "the playbook " + path +
             " cannot be loaded here, so the graph is drawn from the store alone: its steps by phase, without "
             "their dependencies";
  return out;
}

}  // namespace relengine::view
