// The step graph: step instances (for_each expanded into ID[ITEM]) and their dependency
// edges by the ordering rules of SPEC §2, on Boost.Graph; a stable topological order and
// cycle detection that names every member. Used by validate, list, plan, run and graph.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "expr/value.h"
#include "load/diagnostics.h"
#include "model/playbook.h"

namespace relengine::graph {

struct StepNode {
  std::string id;  // "tag" or "tag[webhook]"
  const model::Step* step = nullptr;
  const model::Phase* phase = nullptr;
  std::size_t phase_index = 0;
  std::size_t file_order = 0;       // position of the step in the file, for stable ordering
  std::optional<expr::Value> item;  // set in a for_each instance
  bool unexpanded = false;          // a for_each step whose list is not known yet: ID[*]
  bool retired = false;             // an ID[*] replaced by its instances at run time (no edges)
};

struct DependencyEdge {
  model::Mark mark;  // the `needs` entry that made it; line 0 when implied by order
};

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, StepNode, DependencyEdge>;
using Vertex = Graph::vertex_descriptor;

// Items of a for_each step, or nullopt when they cannot be known yet.
using ForEachItems = std::function<std::optional<std::vector<expr::Value>>(const model::Step&)>;

class StepGraph {
 public:
  // One node per step (for_each steps not expanded): the shape `validate` checks.
  static StepGraph of_steps(const model::Playbook& pb);
  // One node per step instance.
  static StepGraph expanded(const model::Playbook& pb, const ForEachItems& items);

  const Graph& graph() const { return g_; }
  std::size_t size() const { return boost::num_vertices(g_); }
  const StepNode& node(Vertex v) const { return g_[v]; }
  std::optional<Vertex> find(const std::string& id) const;

  std::vector<Vertex> dependencies(Vertex v) const;  // sorted by file order
  std::vector<Vertex> dependents(Vertex v) const;

  // Kahn's algorithm, ties broken by order in the file; retired vertices left out. Empty if
  // there is a cycle.
  std::vector<Vertex> topological_order() const;

  // Replaces an unexpanded ID[*] by one instance per item (run time, once the list is known):
  // each instance gets the placeholder's dependencies and dependents; the placeholder is retired.
  // Returns the new vertices, in item order.
  std::vector<Vertex> expand(Vertex placeholder, const std::vector<expr::Value>& items);

  // Every distinct cycle, as errors positioned at a `needs` entry on it.
  void report_cycles(const std::string& file, load::Diagnostics& diags) const;
  // A for_each that reads a step's outputs must run after that step (its list is computed when
  // it becomes ready): an error at the for_each otherwise. For the graph of_steps() builds.
  void report_for_each_order(const std::string& file, load::Diagnostics& diags) const;
  // Both checks: what validation asks of the graph.
  void check(const std::string& file, load::Diagnostics& diags) const {
    report_cycles(file, diags);
    if (!diags.has_errors()) report_for_each_order(file, diags);
  }

  // The instance id of a for_each item: ID[ITEM] (ITEM its string form, or its index for maps).
  static std::string instance_id(const std::string& id, const expr::Value& item, std::size_t index);

 private:
  Graph g_;
  std::vector<std::pair<std::string, Vertex>> by_id_;  // sorted, for find()
};

}  // namespace relengine::graph
