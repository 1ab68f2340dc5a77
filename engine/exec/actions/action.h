// Built-in actions (`uses:`): each checks whether its effect is already there (then it
// reports `unchanged` and changes nothing), performs it, and sets outputs. They run as
// `relengine __action NAME` under the step's supervisor, like any command, so timeouts,
// signals, logging and secret masking apply to them too. Used by exec/builder.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace relengine::exec::actions {

struct ActionResult {
  enum class Kind { Changed, Unchanged, Failed } kind = Kind::Changed;
  std::string message;
  std::map<std::string, std::string> outputs;
};

// `with` is the rendered JSON object; the working directory is the step's workdir.
using ActionFn = ActionResult (*)(const nlohmann::json& with);

struct ActionInfo {
  const char* name;
  ActionFn run;
};

const std::vector<ActionInfo>& builtin_actions();

// The child's main: reads RELENGINE_WITH, runs the action, writes outputs (and
// relengine.unchanged=true) to $RELENGINE_OUTPUT, prints what it did; exit 0 or 1.
int action_main(int argc, char** argv);

}  // namespace relengine::exec::actions
