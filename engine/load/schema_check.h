// Validates a parsed playbook against schemas/playbook.schema.json with valijson, directly on
// the yaml-cpp nodes, and maps each error's path back to the position of the offending key or value.
#pragma once

#include <yaml-cpp/yaml.h>
#include <string>

#include "load/diagnostics.h"
#include "load/source_map.h"

namespace relengine::load {

// The schema text, compiled into the binary from schemas/playbook.schema.json.
extern const char* const kPlaybookSchema;

void check_schema(const YAML::Node& root, const std::string& file, Diagnostics& diags);
// A library of steps (kind: steps, included with `include:`): its keys, and its steps and inputs
// against the playbook schema's definitions.
void check_library_schema(const YAML::Node& root, const std::string& file, Diagnostics& diags);

}  // namespace relengine::load
