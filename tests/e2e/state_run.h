// A scratch directory with a state directory in it, and relengine run there against that state
// (on PostgreSQL in e2e-pg/: run.h's state_location): what most e2e tests of one playbook need.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run.h"

namespace e2e {

struct StateRun {
  TempDir dir;
  std::string state = (dir / "state").string();

  // relengine ARGS in the directory, with this state (and `env`, `NAME=VALUE ...`).
  Result operator()(std::vector<std::string> args, const std::string& env = "") const {
    args.insert(args.begin(), {"--state-dir", state});
    return relengine(args, dir.path().string(), env);
  }
  nlohmann::json status() const { return nlohmann::json::parse((*this)({"status", "--json"}).out); }
  // The status of step `id` of the latest run (null when there is none).
  nlohmann::json step(const std::string& id) const {
    nlohmann::json all = status();  // kept: a range over a temporary's member would dangle
    for (const auto& s : all["steps"])
      if (s["id"] == id) return s;
    return nlohmann::json();
  }
  std::vector<std::string> ids() const {
    nlohmann::json all = status();
    std::vector<std::string> out;
    for (const auto& s : all["steps"]) out.push_back(s["id"]);
    return out;
  }
};

}  // namespace e2e
