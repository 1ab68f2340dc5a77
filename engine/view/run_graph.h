// The step graph of a recorded run, for `relengine serve`: drawn from the run's playbook (as
// `graph --run` draws it) when that file can be loaded here, else from the store alone (its
// phases and steps in order, without the dependency edges only the playbook knows), with a note
// saying which.
#pragma once

#include <string>

#include "render/graph_model.h"
#include "state/store.h"

namespace relengine::view {

struct RunGraph {
  render::GraphModel model;
  std::string note;  // "" when drawn from the playbook the run recorded
};

// `shown_status`: the run's status as status/runs show it.
RunGraph run_graph(state::RunStore& store, const state::RunRecord& run, const std::string& shown_status);

}  // namespace relengine::view
