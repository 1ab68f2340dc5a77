// yaml.set and file.replace.
#include <glob.h>

#include <regex>
#include <set>

#include "exec/actions/builtins.h"
#include "expr/expr.h"
#include "exec/actions/yaml_edit.h"

namespace relengine::exec::actions {

ActionResult yaml_set(const nlohmann::json& with) {
  ActionResult r;
  std::string file = param(with, "file");
  std::string key = param(with, "key");
  std::string value = param(with, "value");
  std::string text, error;
  if (!read_file(file, text, error)) {
    r.kind = ActionResult::Kind::Failed;
    r.message = error;
    return r;
  }
  auto edit = yaml_set_text(text, key, value);
  r.outputs["previous"] = edit.previous;
  switch (edit.kind) {
    case YamlEdit::Kind::Failed:
      r.kind = ActionResult::Kind::Failed;
      r.message = file + ": " + edit.error;
      r.outputs.clear();
      return r;
    case YamlEdit::Kind::Unchanged:
      r.kind = ActionResult::Kind::Unchanged;
      r.message = file + ": " + key + " is already " + value;
      return r;
    case YamlEdit::Kind::Changed: break;
  }
  if (!write_file_atomic(file, edit.text, error)) {
    r.kind = ActionResult::Kind::Failed;
    r.message = error;
    return r;
  }
  r.message = file + ": " + key + ": " + edit.previous + " -> " + value;
  return r;
}

ActionResult file_replace(const nlohmann::json& with) {
  ActionResult r;
  auto patterns = param_list(with, "files");
  std::string pattern = param(with, "pattern");
  std::string replacement = param(with, "replacement");
  auto fail = [&](const std::string& msg) {
    r.kind = ActionResult::Kind::Failed;
    r.message = msg;
    return r;
  };
  if (pattern.empty()) return fail("'pattern' is empty");
  if (auto problem = expr::regex_problem(pattern)) return fail("invalid regular expression '" + pattern + "': " + *problem);
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return fail("invalid regular expression '" + pattern + "': " + e.what());
  }
  std::set<std::string> files;
  for (const auto& p : patterns) {
    glob_t g{};
    int rc = glob(p.c_str(), GLOB_NOSORT, nullptr, &g);
    if (rc == GLOB_NOMATCH) {
      globfree(&g);
      return fail("no file matches '" + p + "'");
    }
    for (std::size_t i = 0; i < g.gl_pathc; ++i) files.insert(g.gl_pathv[i]);
    globfree(&g);
  }
  if (files.empty()) return fail("'files' names no file");
  std::vector<std::string> changed;
  bool present = false;
  for (const auto& f : files) {
    std::string text, error;
    if (!read_file(f, text, error)) return fail(error);
    if (!std::regex_search(text, re)) {
      if (text.find(replacement) != std::string::npos) present = true;
      continue;
    }
    std::string out = std::regex_replace(text, re, replacement);
    if (out == text) {
      present = true;
      continue;
    }
    if (!write_file_atomic(f, out, error)) return fail(error);
    changed.push_back(f);
  }
  std::string list;
  for (const auto& f : changed) list += (list.empty() ? "" : ",") + f;
  r.outputs["files"] = list;
  r.outputs["count"] = std::to_string(changed.size());
  if (!changed.empty()) {
    r.message = "replaced in " + list;
    return r;
  }
  if (present) {
    r.kind = ActionResult::Kind::Unchanged;
    r.message = "'" + pattern + "' matches nothing and '" + replacement + "' is already there";
    return r;
  }
  return fail("'" + pattern + "' matches nothing in " + std::to_string(files.size()) +
              " file(s) and '" + replacement + "' is not there either: check the pattern");
}

}  // namespace relengine::exec::actions
