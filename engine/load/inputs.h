// Resolves the values of a playbook's inputs from --set, --inputs FILE, the environment and
// defaults; converts types, checks required and pattern; keeps secrets apart so they are never
// printed or stored. Also evaluates `vars`. Used by plan, run and resume.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "expr/value.h"
#include "load/diagnostics.h"
#include "load/secret_masker.h"
#include "model/playbook.h"

namespace relengine::load {

struct InputSources {
  std::vector<std::string> sets;                // NAME=VALUE, in command-line order
  std::string inputs_file;                      // --inputs FILE.yaml, or ""
  std::map<std::string, std::string> recorded;  // values recorded by an earlier run (resume)
  std::function<std::optional<std::string>(const std::string&)> env;
  bool lenient = false;  // missing required inputs become unknown instead of errors (list, graph)
};

struct InputValues {
  std::map<std::string, expr::Value> values;
  std::set<std::string> secret_names;
  std::vector<std::string> secret_values;  // non-empty values of secret inputs, for masking

  // Non-secret values as strings, for recording in the state and printing.
  std::map<std::string, std::string> public_values() const;
  // Replaces every occurrence of a secret value by *** in a whole text (see SecretMasker for
  // what is masked).
  std::string mask(std::string text) const;
  // A masker for a stream (a step's output), masking exactly as mask() does.
  SecretMasker masker() const { return SecretMasker(secret_values); }
};

InputValues resolve_inputs(const model::Playbook& pb, const InputSources& sources, Diagnostics& diags);

// Evaluates `vars` in order (each may read inputs and the vars before it).
std::map<std::string, expr::Value> evaluate_vars(const model::Playbook& pb, const InputValues& inputs,
                                                 Diagnostics& diags);

// The process environment, as InputSources::env wants it.
std::optional<std::string> process_env(const std::string& name);

}  // namespace relengine::load
