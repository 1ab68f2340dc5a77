// The built-in actions, one function each, and the file and git helpers they share.
// Internal to exec/actions.
#pragma once

#include <string>
#include <vector>

#include "exec/actions/action.h"

namespace relengine::exec::actions {

ActionResult yaml_set(const nlohmann::json& with);
ActionResult yaml_get(const nlohmann::json& with);
ActionResult file_replace(const nlohmann::json& with);
ActionResult git_commit(const nlohmann::json& with);
ActionResult git_tag(const nlohmann::json& with);
ActionResult git_revert(const nlohmann::json& with);

// Reads a whole file; false with a message when it cannot.
bool read_file(const std::string& path, std::string& out, std::string& error);

// A string parameter of `with`, or `fallback` when absent.
std::string param(const nlohmann::json& with, const char* name, const std::string& fallback = "");
// A list-of-strings parameter (a single string counts as a one-item list).
std::vector<std::string> param_list(const nlohmann::json& with, const char* name);

}  // namespace relengine::exec::actions
