// The pages of `relengine serve`: HTML rendered on the server (useful without a script), and one
// script that keeps them live (the run's graph and steps from its event stream, a step's details
// on a click). No resource from anywhere but the server itself.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "state/store.h"

namespace relengine::serve {

// The runs in the store, most recent first (refreshed by the script); `problem`: why there are
// none to show ("" when there is no problem).
std::string runs_page(const std::string& store_location, const nlohmann::json& runs, const std::string& problem);
// A run: `svg` its graph, `state` Views::live_state, `note` how the graph was drawn ("" normally).
std::string run_page(const state::RunRecord& run, const nlohmann::json& state, const std::string& svg,
                     const std::string& note);
// /static/relengine.js
const std::string& script();

}  // namespace relengine::serve
