// What a command wrote to $RELENGINE_OUTPUT (docs/execution.md, "Outputs"), read the way GitHub
// Actions reads $GITHUB_OUTPUT: `NAME=VALUE` lines, and `NAME<<DELIMITER` followed by the value's
// lines and a line that is exactly DELIMITER (a value with newlines, or anything else). Names the
// engine reads itself (`relengine.*`) are not a step's to write: they are dropped with a note.
#pragma once

#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace relengine::exec {

struct ParsedOutputs {
  std::map<std::string, std::string> values;
  std::vector<std::string> notes;  // lines ignored, and why (for the step's log)
  std::string error;               // "" unless the file cannot be read as outputs (an unended value)
};

ParsedOutputs parse_outputs(std::string_view text);

// `name` and `value` in the form parse_outputs reads back exactly, whatever `value` holds: the
// multi-line form with a random delimiter that is no line of `value`.
std::string output_entry(const std::string& name, const std::string& value, std::mt19937_64& random);

}  // namespace relengine::exec
