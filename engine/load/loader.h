// Loads a playbook: YAML parse, JSON Schema validation, model building and the semantic
// checks of SPEC §2 (ids, needs, actions, for_each, expressions, inputs). Every problem is
// collected as a positioned Diagnostic. Used by every CLI command that reads a playbook.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "load/diagnostics.h"
#include "model/playbook.h"

namespace relengine::load {

struct LoadResult {
  std::optional<model::Playbook> playbook;  // set when there are no errors
  Diagnostics diags;                        // errors and lint warnings
};

struct LoadOptions {
  // These exact bytes already passed the structural checks (YAML termination pre-pass, JSON
  // Schema) in this version of relengine: skip them. The semantic checks always run. Set by
  // `resume` when the playbook's content hash and the validator are those the run recorded.
  bool structure_known_valid = false;
};

LoadResult load_file(const std::string& path);
LoadResult load_text(const std::string& path, const std::string& source, const LoadOptions& options = {});

// The playbook's content hash, "sha256:" and the 64 hex digits of the SHA-256 of its bytes (what
// sha256sum prints), recorded with each run; resume compares it with the file's.
std::string content_hash(const std::string& source);
// Who validates: relengine's version and the hash of its embedded schema. Same content hash and
// same validator: the structural checks would pass again.
std::string validator_id();

// Parses "10m", "1h30m", "500ms" into milliseconds; nullopt when malformed. Saturates at
// milliseconds::max() (however many digits): the caller checks the bounds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The range of an int input, as messages give it.
inline constexpr const char* kIntRange = "(-9223372036854775808 to 9223372036854775807)";

}  // namespace relengine::load
