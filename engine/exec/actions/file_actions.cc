// yaml.set, yaml.get and file.replace.
#include <glob.h>

#include <filesystem>
#include <regex>
#include <set>

#include "exec/actions/builtins.h"
#include "exec/actions/yaml_edit.h"
#include "expr/expr.h"
#include "io/atomic_file.h"

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
  std::optional<std::string> comment;
  if (with.is_object() && with.contains("comment") && !with["comment"].is_null()) comment = param(with, "comment");
  WriteAs as = WriteAs::String;
  if (with.is_object() && with.contains("type") && !parse_write_as(param(with, "type"), as)) {
    r.kind = ActionResult::Kind::Failed;
    r.message = file + ": type: '" + param(with, "type") + "' is not string, int, float, bool, null or timestamp";
    return r;
  }
  auto edit = yaml_set_text(text, key, value, comment, as);
  r.outputs["previous"] = edit.previous;
  switch (edit.kind) {
    case YamlEdit::Kind::Failed:
      r.kind = ActionResult::Kind::Failed;
      r.message = file + ": " + edit.error;
      r.outputs.clear();
      return r;
    case YamlEdit::Kind::Unchanged:
      r.kind = ActionResult::Kind::Unchanged;
      r.message = file + ": " + key + " is already " + value +
                  (comment ? (comment->empty() ? " (no comment)" : " # " + *comment) : "");
      return r;
    case YamlEdit::Kind::Changed:
      break;
  }
  if (!io::write_file_atomically(file, edit.text, error)) {
    r.kind = ActionResult::Kind::Failed;
    r.message = error;
    return r;
  }
  r.message = file + ": " + key + ": " + edit.previous + " -> " + value;
  return r;
}

namespace {

bool flag(const nlohmann::json& with, const char* name) {
  return with.is_object() && with.contains(name) &&
         (with[name] == true || with[name] == "true" || with[name] == "yes" || with[name] == "1");
}

// The files of a list of globs, sorted; `missing` gets the globs that match nothing.
std::vector<std::string> expand_globs(const std::vector<std::string>& patterns, std::vector<std::string>& missing) {
  std::set<std::string> files;
  for (const auto& p : patterns) {
    glob_t g{};
    int rc = glob(p.c_str(), 0, nullptr, &g);
    if (rc == GLOB_NOMATCH) missing.push_back(p);
    for (std::size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) files.insert(g.gl_pathv[i]);
    globfree(&g);
  }
  return {files.begin(), files.end()};
}

}  // namespace

ActionResult yaml_get(const nlohmann::json& with) {
  ActionResult r;
  auto fail = [&](const std::string& msg) {
    r.kind = ActionResult::Kind::Failed;
    r.message = msg;
    r.outputs.clear();
    return r;
  };
  std::string key = param(with, "key");
  bool optional = flag(with, "optional");
  bool many = with.is_object() && with.contains("files");
  if (many == (with.is_object() && with.contains("file"))) return fail("give either 'file' or 'files'");
  if (!many) {
    std::string file = param(with, "file");
    std::string text, error;
    if (!read_file(file, text, error)) return fail(error);
    auto got = yaml_get_text(text, key);
    if (got.kind == YamlRead::Kind::Failed) return fail(file + ": " + got.error);
    if (got.kind == YamlRead::Kind::Absent && !optional)
      return fail(file + ": " + got.error + " (add optional: true if it may be absent)");
    bool found = got.kind == YamlRead::Kind::Found;
    r.outputs["value"] = got.value;
    r.outputs["found"] = found ? "true" : "false";
    r.message = file + ": " + key + (found ? " = " + got.value : " is absent (optional)");
    return r;
  }
  // Many files: which of them have the key (and, with `matches`, a value that matches).
  std::string matches = param(with, "matches");
  std::regex re;
  if (!matches.empty()) {
    if (auto problem = expr::regex_problem(matches))
      return fail("invalid regular expression '" + matches + "': " + *problem);
    try {
      re = std::regex(matches, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return fail("invalid regular expression '" + matches + "': " + e.what());
    }
  }
  std::vector<std::string> missing_globs;
  auto files = expand_globs(param_list(with, "files"), missing_globs);
  if (files.empty() && !optional) return fail("no file matches " + param(with, "files"));
  auto selected = nlohmann::ordered_json::array();
  auto dirs = nlohmann::ordered_json::array();
  auto values = nlohmann::ordered_json::object();
  std::vector<std::string> absent;
  for (const auto& f : files) {
    std::string text, error;
    if (!read_file(f, text, error)) return fail(error);
    auto got = yaml_get_text(text, key);
    if (got.kind == YamlRead::Kind::Failed) return fail(f + ": " + got.error);
    if (got.kind == YamlRead::Kind::Absent) {
      absent.push_back(f);
      continue;
    }
    values[f] = got.value;
    if (!matches.empty() && !(got.scalar && std::regex_search(got.value, re))) continue;
    selected.push_back(f);
    std::string dir = std::filesystem::path(f).parent_path().filename().string();
    dirs.push_back(dir.empty() ? "." : dir);
  }
  if (!absent.empty() && !optional) {
    std::string list;
    for (const auto& f : absent) list += (list.empty() ? "" : ", ") + f;
    return fail("no " + key + " in " + list + " (add optional: true if it may be absent)");
  }
  r.outputs["files"] = selected.dump();
  r.outputs["dirs"] = dirs.dump();
  r.outputs["values"] = values.dump();
  r.outputs["count"] = std::to_string(selected.size());
  r.message = std::to_string(selected.size()) + " of " + std::to_string(files.size()) + " file(s) " +
              (matches.empty() ? "have " + key : "have " + key + " matching '" + matches + "'") + ": " +
              selected.dump();
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
  if (auto problem = expr::regex_problem(pattern))
    return fail("invalid regular expression '" + pattern + "': " + *problem);
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
    if (!io::write_file_atomically(f, out, error)) return fail(error);
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
  if (flag(with, "allow_no_match")) {
    r.kind = ActionResult::Kind::Unchanged;
    r.message = "nothing to replace: '" + pattern + "' matches nothing in " + std::to_string(files.size()) +
                " file(s) (allow_no_match)";
    return r;
  }
  return fail("'" + pattern + "' matches nothing in " + std::to_string(files.size()) + " file(s) and '" + replacement +
              "' is not there either: check the pattern, or set allow_no_match: true "
              "if a release may have nothing to replace");
}

}  // namespace relengine::exec::actions
