#include "load/inputs.h"

#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "expr/expr.h"
#include "load/loader.h"
#include "load/yaml_nodes.h"

namespace relengine::load {

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

std::map<std::string, std::string> InputValues::public_values() const {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : values)
    if (!secret_names.count(k) && !v.is_unknown()) out[k] = expr::to_string(v);
  return out;
}

std::string InputValues::mask(std::string text) const {
  if (secret_values.empty()) return text;
  return SecretMasker(secret_values).mask(text);
}

namespace {

struct Candidate {
  std::string value;
  std::string origin;  // "--set", "FILE:LINE:COL", "$ENV", "default", "recorded"
  std::string file;
  model::Mark mark;
};

std::optional<expr::Value> convert(const model::Input& in, const std::string& raw, std::string& problem) {
  switch (in.type) {
    case model::InputType::Bool: {
      std::string v = raw;
      std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
      if (v == "true" || v == "yes" || v == "1") return expr::Value(true);
      if (v == "false" || v == "no" || v == "0") return expr::Value(false);
      problem = "must be true or false";
      return std::nullopt;
    }
    case model::InputType::Int: {
      std::int64_t i = 0;
      const char* end = raw.data() + raw.size();
      auto [p, ec] = std::from_chars(raw.data(), end, i);
      if (ec == std::errc::result_out_of_range && p == end) {
        problem = std::string("is out of range for an int ") + kIntRange;
        return std::nullopt;
      }
      if (raw.empty() || ec != std::errc() || p != end) {
        problem = "must be an integer";
        return std::nullopt;
      }
      return expr::Value(i);
    }
    case model::InputType::String:
      break;
  }
  if (in.pattern && !std::regex_search(raw, std::regex(in.pattern->value, std::regex::ECMAScript))) {
    problem = "does not match the pattern " + in.pattern->value;
    return std::nullopt;
  }
  return expr::Value(raw);
}

std::vector<std::string> names_of(const model::Playbook& pb) {
  std::vector<std::string> out;
  for (const auto& in : pb.inputs) out.push_back(in.name);
  return out;
}

void unknown_input(const model::Playbook& pb, const std::string& name, const std::string& file, model::Mark mark,
                   const std::string& origin, Diagnostics& diags) {
  std::string msg = "unknown input '" + name + "'" + (origin.empty() ? "" : " (" + origin + ")");
  auto names = names_of(pb);
  if (auto best = closest(name, names); !best.empty())
    msg += "; did you mean '" + best + "'?";
  else if (!names.empty()) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    msg += "; the playbook's inputs are: " + all;
  } else {
    msg += "; the playbook declares no inputs";
  }
  diags.error(file, mark, msg);
}

void read_inputs_file(const model::Playbook& pb, const std::string& path, std::map<std::string, Candidate>& out,
                      Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error(path, {}, "cannot read the inputs file: " + std::string(std::strerror(errno)));
    return;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(buf.str());
  } catch (const YAML::Exception& e) {
    model::Mark m;
    if (!e.mark.is_null()) m = {e.mark.line + 1, e.mark.column + 1, 0};
    diags.error(path, m, "YAML syntax error: " + e.msg);
    return;
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) {
    diags.error(path, mark_of(root), "an inputs file is a map of input names to values");
    return;
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string name = it->first.IsScalar() ? it->first.Scalar() : "";
    if (!pb.find_input(name)) {
      unknown_input(pb, name, path, mark_of(it->first), "", diags);
      continue;
    }
    if (!it->second.IsScalar()) {
      diags.error(path, mark_of(it->second), "the value of input '" + name + "' must be a single value");
      continue;
    }
    out[name] = {it->second.Scalar(), path, path, mark_of(it->second)};
  }
}

}  // namespace

InputValues resolve_inputs(const model::Playbook& pb, const InputSources& sources, Diagnostics& diags) {
  InputValues out;
  std::map<std::string, Candidate> given;
  for (const auto& [k, v] : sources.recorded)
    if (pb.find_input(k)) given[k] = {v, "recorded in the run", "", {}};
  if (!sources.inputs_file.empty()) read_inputs_file(pb, sources.inputs_file, given, diags);
  for (const auto& set : sources.sets) {
    auto eq = set.find('=');
    if (eq == std::string::npos || eq == 0) {
      diags.error("", {}, "--set '" + set + "' must be NAME=VALUE");
      continue;
    }
    std::string name = set.substr(0, eq);
    if (!pb.find_input(name)) {
      unknown_input(pb, name, "", {}, "--set", diags);
      continue;
    }
    given[name] = {set.substr(eq + 1), "--set", "", {}};
  }
  auto env = sources.env ? sources.env : process_env;
  for (const auto& in : pb.inputs) {
    std::optional<Candidate> c;
    if (auto it = given.find(in.name); it != given.end())
      c = it->second;
    else if (!in.env.empty()) {
      if (auto v = env(in.env)) c = Candidate{*v, "$" + in.env, "", {}};
    }
    if (!c && in.default_value) c = Candidate{in.default_value->scalar, "default", "", in.default_value->mark};
    if (in.secret) out.secret_names.insert(in.name);
    if (!c) {
      if (sources.lenient) {
        out.values[in.name] = expr::Unknown{"inputs." + in.name};
      } else if (in.required) {
        std::string how = in.secret ? "set the environment variable " + in.env
                                    : "pass --set " + in.name + "=VALUE" +
                                          (in.env.empty() ? "" : " or set the environment variable " + in.env);
        diags.error("", {}, "input '" + in.name + "' is required: " + how);
      } else {
        out.values[in.name] = in.type == model::InputType::Bool  ? expr::Value(false)
                              : in.type == model::InputType::Int ? expr::Value(0)
                                                                 : expr::Value(std::string());
      }
      continue;
    }
    std::string problem;
    auto v = convert(in, c->value, problem);
    if (!v) {
      std::string shown = in.secret ? "the value" : "'" + c->value + "'";
      diags.error(c->file, c->mark, "input '" + in.name + "': " + shown + " " + problem + " (from " + c->origin + ")");
      continue;
    }
    if (in.secret && !c->value.empty()) out.secret_values.push_back(c->value);
    out.values[in.name] = std::move(*v);
  }
  return out;
}

std::map<std::string, expr::Value> evaluate_vars(const model::Playbook& pb, const InputValues& inputs,
                                                 Diagnostics& diags) {
  std::map<std::string, expr::Value> vars;
  expr::Scope scope;
  scope.inputs = &inputs.values;
  scope.vars = &vars;
  scope.env = process_env;
  for (const auto& v : pb.vars) {
    auto r = expr::render_node(v.value, scope, expr::RenderMode::Plain);
    if (r.error) {
      diags.error(pb.path, v.value.mark, "var '" + v.name + "': " + r.error->message);
      continue;
    }
    vars[v.name] = std::move(r.value);
  }
  return vars;
}

}  // namespace relengine::load
