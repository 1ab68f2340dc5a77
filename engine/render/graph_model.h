// What every graph format draws: phases (in playbook order) holding step nodes (for_each
// instances grouped under their step), dependency edges, gate and irreversible marks, and, for
// a run, each step's state. Built from a prepared playbook (and a run's records); rendered by
// render/graph_render. Deterministic: ordered by the playbook, never by pointers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "state/store.h"

namespace relengine::render {

struct GraphNode {
  std::string id;    // instance id, "tag[api]"
  std::string step;  // step id, "tag"
  std::string name;  // the step's name, or ""
  std::string phase;
  bool gate = false;
  bool irreversible = false;
  bool for_each = false;
  // With a run:
  std::string status;  // "" without a run
  std::string reason;
  std::string message;
  int attempts = 0;
  std::string started;
  std::string finished;
};

struct GraphPhase {
  std::string id;
  std::string name;
  std::vector<std::size_t> nodes;  // indices into GraphModel::nodes, in execution order
};

struct GraphModel {
  std::string title;  // the playbook's name
  std::string playbook;
  std::string run_id;  // "" without a run
  std::string run_status;
  std::vector<GraphPhase> phases;
  std::vector<GraphNode> nodes;
  std::vector<std::pair<std::size_t, std::size_t>> edges;  // (dependency, dependent), sorted
};

// `records`: the run's steps (nullptr: no run). Steps of the run that the playbook no longer
// has are left out; steps the run does not know yet show as pending.
GraphModel build_graph_model(const plan::Prepared& prep, const std::vector<state::StepRecord>* records,
                             const std::string& run_id, const std::string& run_status);

// Seconds between two RFC 3339 times, or nullopt.
std::optional<double> duration_seconds(const std::string& started, const std::string& finished);

}  // namespace relengine::render
