// The one way every command loads a playbook file: YAML, schema, semantic checks, and the checks
// of its step graph (cycles, for_each order). Used by validate, list, plan, graph (cli/) and by
// run and resume (exec/session).
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "load/diagnostics.h"
#include "model/playbook.h"

namespace relengine::plan {

// What a run recorded of the bytes it validated: when the file still has them and the same
// relengine loads it, the structural checks that passed for them (the YAML termination pre-pass
// and the JSON Schema) are not repeated; the semantic and graph checks always run.
struct KnownValid {
  std::string content_hash;  // load::content_hash of the bytes
  std::string validator;     // load::validator_id() that validated them
};

// The playbook, or nullopt when it has errors; every problem (errors and warnings) is in `diags`.
std::optional<model::Playbook> load_checked(const std::string& path, load::Diagnostics& diags,
                                            const KnownValid* known = nullptr);

// Prints every problem, one per line (warnings too unless `warnings` is false), then the number
// of errors; returns the exit code: kBadInput when there are errors, else kOk.
int report(const load::Diagnostics& diags, std::ostream& err, bool warnings = true);

}  // namespace relengine::plan
