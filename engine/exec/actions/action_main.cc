#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "exec/actions/builtins.h"
#include "exec/outputs.h"

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
  // Outputs in the multi-line form with a random delimiter, so that no value (a file's old value
  // may hold anything) can end its entry early or add one; the action's own report (unchanged,
  // and why) in a file of its own, which no output can touch.
  if (const char* out = std::getenv("RELENGINE_OUTPUT")) {
    std::ofstream f(out, std::ios::app | std::ios::binary);
    std::mt19937_64 random(std::random_device{}());
    for (const auto& [k, v] : r.outputs) f << output_entry(k, v, random);
  }
  if (const char* report = std::getenv("RELENGINE_ACTION_RESULT")) {
    std::ofstream f(report, std::ios::trunc | std::ios::binary);
    nlohmann::json j = {{"unchanged", r.kind == ActionResult::Kind::Unchanged},
                        {"message", r.message.substr(0, r.message.find('\n'))}};
    f << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
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
