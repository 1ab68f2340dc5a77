// The release record of a run (docs/report.md), from the store alone: one JSON document
// (schemas/report.schema.json) and its Markdown and HTML renderings. Secrets are never in it: the
// store keeps none. Used by `relengine report` and `relengine serve`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "state/store.h"

namespace relengine::view {

using json = nlohmann::json;

// `shown`: the run's status as status/runs show it (cli::shown_status).
json build_record(state::RunStore& store, const state::RunRecord& run, state::RunStatus shown);
// GitHub-flavoured Markdown: tables, and collapsed <details> for the tails of failed steps' logs.
std::string markdown(const json& record);
// One self-contained page: no script, no stylesheet or image from anywhere.
std::string html(const json& record);
// The last `n` lines of `text`.
std::vector<std::string> tail(const std::string& text, std::size_t n);

}  // namespace relengine::view
