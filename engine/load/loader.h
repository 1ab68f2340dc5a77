// Loads a playbook: YAML parse, JSON Schema validation, model building and the semantic
// checks of SPEC §2 (ids, needs, actions, for_each, expressions, inputs). Every problem is
// collected as a positioned Diagnostic. Used by every CLI command that reads a playbook.
#pragma once

#include <optional>
#include <string>

#include "load/diagnostics.h"
#include "model/playbook.h"

namespace relengine::load {

struct LoadResult {
  std::optional<model::Playbook> playbook;  // set when there are no errors
  Diagnostics diags;                        // errors and lint warnings
};

LoadResult load_file(const std::string& path);
LoadResult load_text(const std::string& path, const std::string& source);

// Parses "10m", "1h30m", "500ms" into seconds; nullopt when malformed.
std::optional<double> parse_duration(const std::string& text);

}  // namespace relengine::load
