#include "render/graph_model.h"

#include <algorithm>
#include <ctime>

namespace relengine::render {

GraphModel build_graph_model(const plan::Prepared& prep, const std::vector<state::StepRecord>* records,
                             const std::string& run_id, const std::string& run_status) {
  GraphModel m;
  const model::Playbook& pb = *prep.playbook;
  const auto& g = prep.graph;
  m.title = pb.name.value;
  m.playbook = pb.path;
  m.run_id = run_id;
  m.run_status = run_status;
  std::map<std::string, const state::StepRecord*> by_id;
  if (records)
    for (const auto& r : *records) by_id[r.id] = &r;
  std::map<std::string, std::size_t> phase_index;
  for (const auto& ph : pb.phases) {
    phase_index[ph.id.value] = m.phases.size();
    m.phases.push_back({ph.id.value, ph.name.value, {}});
  }
  auto order = g.topological_order();
  std::vector<std::size_t> node_of(g.size());
  for (auto v : order) {
    const auto& n = g.node(v);
    GraphNode gn;
    gn.id = n.id;
    gn.step = n.step->id.value;
    gn.name = n.step->name.value;
    if (n.unexpanded) gn.name += std::string(gn.name.empty() ? "" : " ") + "(instances known at run time)";
    gn.phase = n.phase->id.value;
    gn.gate = n.step->action == model::ActionKind::Manual;
    expr::Value any_item = expr::Unknown{"item"};
    gn.irreversible = plan::irreversible(prep, *n.step,
                                         n.item         ? &*n.item
                                         : n.unexpanded ? &any_item
                                                        : nullptr,
                                         nullptr);
    gn.for_each = n.step->for_each.has_value();
    if (records) {
      auto it = by_id.find(n.id);
      gn.status = it == by_id.end() ? "pending" : std::string(state::name(it->second->status));
      if (it != by_id.end()) {
        const auto& r = *it->second;
        gn.reason = r.reason;
        gn.message = r.message;
        gn.attempts = r.attempts;
        gn.started = r.started;
        gn.finished = r.finished;
      }
    }
    node_of[v] = m.nodes.size();
    m.phases[phase_index[gn.phase]].nodes.push_back(m.nodes.size());
    m.nodes.push_back(std::move(gn));
  }
  for (auto v : order)
    for (auto d : g.dependencies(v)) m.edges.emplace_back(node_of[d], node_of[v]);
  std::sort(m.edges.begin(), m.edges.end());
  return m;
}

std::optional<double> duration_seconds(const std::string& started, const std::string& finished) {
  auto parse = [](const std::string& s) -> std::optional<double> {
    std::tm tm{};
    int ms = 0;
    if (s.size() < 19) return std::nullopt;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &ms) < 6)
      return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<double>(timegm(&tm)) + ms / 1000.0;
  };
  auto a = parse(started), b = parse(finished);
  if (!a || !b) return std::nullopt;
  return *b - *a;
}

}  // namespace relengine::render
