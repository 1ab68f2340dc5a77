#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "exec/actions/builtins.h"

namespace relengine::exec::actions {

const std::vector<ActionInfo>& builtin_actions() {
  static const std::vector<ActionInfo> all = {
      {"yaml.set", yaml_set},     {"yaml.get", yaml_get}, {"file.replace", file_replace},
      {"git.commit", git_commit}, {"git.tag", git_tag},   {"git.revert", git_revert},
  };
  return all;
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

std::string param(const nlohmann::json& with, const char* name, const std::string& fallback) {
  if (!with.is_object() || !with.contains(name) || with[name].is_null()) return fallback;
  const auto& v = with[name];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::vector<std::string> param_list(const nlohmann::json& with, const char* name) {
  std::vector<std::string> out;
  if (!with.is_object() || !with.contains(name)) return out;
  const auto& v = with[name];
  if (v.is_string())
    out.push_back(v.get<std::string>());
  else if (v.is_array())
    for (const auto& item : v) out.push_back(item.is_string() ? item.get<std::string>() : item.dump());
  return out;
}

int action_main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "relengine __action: internal use only\n";
    return 2;
  }
  std::string name = argv[2];
  const ActionInfo* info = nullptr;
  for (const auto& a : builtin_actions())
    if (name == a.name) info = &a;
  if (!info) {
    std::cerr << "relengine: unknown action " << name << "\n";
    return 2;
  }
  const char* raw = std::getenv("RELENGINE_WITH");
  auto with = nlohmann::json::parse(raw ? raw : "{}", nullptr, false);
  if (with.is_discarded()) with = nlohmann::json::object();
  ActionResult r;
  try {
    r = info->run(with);
  } catch (const std::exception& e) {
    r.kind = ActionResult::Kind::Failed;
    r.message = e.what();
  }
  if (const char* out = std::getenv("RELENGINE_OUTPUT")) {
    std::ofstream f(out, std::ios::app);
    for (const auto& [k, v] : r.outputs) f << k << "=" << v << "\n";
    if (r.kind == ActionResult::Kind::Unchanged) {
      f << "relengine.unchanged=true\n";
      std::string why = r.message.substr(0, r.message.find('\n'));
      f << "relengine.message=" << why << "\n";
    }
  }
  switch (r.kind) {
    case ActionResult::Kind::Changed:
      std::cout << name << ": " << r.message << "\n";
      return 0;
    case ActionResult::Kind::Unchanged:
      std::cout << name << ": unchanged: " << r.message << "\n";
      return 0;
    case ActionResult::Kind::Failed:
      std::cerr << name << ": " << r.message << "\n";
      return 1;
  }
  return 1;
}

}  // namespace relengine::exec::actions
