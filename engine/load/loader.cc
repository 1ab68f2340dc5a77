#include "load/loader.h"

#include <openssl/evp.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "expr/expr.h"
#include "load/schema_check.h"
#include "load/source_map.h"
#include "load/yaml_nodes.h"

namespace relengine::load {

model::Node to_model_node(const YAML::Node& node) {
  model::Node out;
  out.mark = mark_of(node);
  if (node.IsSequence()) {
    out.kind = model::Node::Kind::List;
    for (const auto& item : node) out.items.push_back(to_model_node(item));
  } else if (node.IsMap()) {
    out.kind = model::Node::Kind::Map;
    for (auto it = node.begin(); it != node.end(); ++it)
      out.entries.push_back({it->first.IsScalar() ? it->first.Scalar() : "", to_model_node(it->second)});
  } else if (node.IsScalar()) {
    out.scalar = node.Scalar();
    out.plain = is_plain(node);
  } else {
    out.plain = true;  // null: an empty value
  }
  return out;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  using Ms = std::chrono::milliseconds;
  constexpr std::int64_t max = Ms::max().count();
  // Saturating: a sum or product beyond the range is the range's end, never a wrap.
  auto add = [&](std::int64_t a, std::int64_t b) { return a > max - b ? max : a + b; };
  auto mul = [&](std::int64_t a, std::int64_t b) { return b != 0 && a > max / b ? max : a * b; };
  std::int64_t total = 0;
  std::size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    std::size_t digits = i;
    std::int64_t n = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) n = add(mul(n, 10), text[i] - '0');
    if (i == digits) return std::nullopt;
    std::int64_t unit = 0;
    if (text.substr(i, 2) == "ms")
      unit = 1, i += 2;
    else if (i < text.size() && text[i] == 's')
      unit = 1000, ++i;
    else if (i < text.size() && text[i] == 'm')
      unit = 60'000, ++i;
    else if (i < text.size() && text[i] == 'h')
      unit = 3'600'000, ++i;
    else
      return std::nullopt;
    total = add(total, mul(n, unit));
  }
  return Ms(total);
}

namespace {

namespace fs = std::filesystem;
using model::Mark;
using model::Text;

struct Library {
  std::string source;
  std::vector<model::Input> inputs;
  std::vector<model::Step> steps;                     // local ids; nested includes expanded
  std::vector<model::Playbook::IncludeGroup> groups;  // its own include entries
};

std::optional<Library> load_library(const std::string& path, Diagnostics& diags, std::vector<std::string> chain,
                                    std::string& why);

class Builder {
 public:
  // `chain`: the files being loaded, outermost first (this one last): an include of one of them is a cycle.
  Builder(const std::string& file, const std::string& source, Diagnostics& diags, std::vector<std::string> chain = {})
      : file_(file), source_(source), map_(source), diags_(diags), chain_(std::move(chain)) {
    if (chain_.empty()) chain_.push_back(fs::path(file).lexically_normal().string());
  }

  model::Playbook build(const YAML::Node& root) {
    model::Playbook pb;
    pb.name = text(root, "name");
    pb.description = text(root, "description");
    if (auto v = root["version"]; v && v.IsScalar()) pb.version = as_int(v).value_or(1);
    read_inputs(root["inputs"], pb);
    read_vars(root["vars"], pb);
    read_defaults(root["defaults"], pb.defaults);
    if (auto phases = root["phases"]; phases && phases.IsSequence())
      for (const auto& p : phases) pb.phases.push_back(read_phase(p));
    pb.includes = groups_;
    return pb;
  }

  // A library's inputs and steps (its includes expanded).
  void build_library(const YAML::Node& root, std::vector<model::Input>& inputs, std::vector<model::Step>& steps) {
    model::Playbook holder;
    read_inputs(root["inputs"], holder);
    inputs = holder.inputs;
    if (auto list = root["steps"]; list && list.IsSequence()) read_steps(list, steps);
  }

  void error(Mark m, std::string msg) { diags_.error(file_, m, std::move(msg)); }
  void warning(Mark m, std::string msg) { diags_.warning(file_, m, std::move(msg)); }
  const SourceMap& map() const { return map_; }
  const std::string& file() const { return file_; }
  const std::vector<model::Playbook::IncludeGroup>& groups() const { return groups_; }
  // The include entries of this file (their `with` is checked in this file's scope).
  const std::vector<std::shared_ptr<model::IncludeScope>>& includes() const { return includes_; }

 private:
  // `map[key]`, found the way yaml-cpp finds it (the first entry whose key is that text), from an
  // index of the map's entries made once per map: yaml-cpp converts every key to a string at
  // each lookup, and the dozen lookups per step were most of the loader's time on a 1000-step
  // playbook (docs/PERFORMANCE.md).
  YAML::Node get(const YAML::Node& map, std::string_view key) {
    if (!map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    if (!indexed_ || !indexed_->is(map)) {
      index_.clear();
      for (auto it = map.begin(); it != map.end(); ++it)
        if (it->first.IsScalar()) index_.emplace_back(it->first.Scalar(), it->second);
      indexed_.emplace(map);
    }
    for (const auto& [k, v] : index_)
      if (k == key) return v;
    return YAML::Node(YAML::NodeType::Undefined);
  }
  std::optional<YAML::Node> indexed_;  // the map index_ holds the entries of
  std::vector<std::pair<std::string, YAML::Node>> index_;

  static YAML::Node key_node(const YAML::Node& map, const std::string& key) {
    if (!map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    for (auto it = map.begin(); it != map.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
    return YAML::Node(YAML::NodeType::Undefined);
  }

  static std::optional<int> as_int(const YAML::Node& n) {
    try {
      return n.as<int>();
    } catch (const YAML::Exception&) {
      return std::nullopt;
    }
  }

  static std::optional<double> as_double(const YAML::Node& n) {
    try {
      return n.as<double>();
    } catch (const YAML::Exception&) {
      return std::nullopt;
    }
  }

  // A string field; structural type errors are reported here (the schema's YAML adapter
  // sees every scalar as a string and cannot tell maps from strings).
  Text text(const YAML::Node& map, const char* key) {
    Text t;
    if (!map.IsMap()) return t;
    YAML::Node n = get(map, key);
    if (!n) return t;
    t.given = true;
    t.mark = mark_of(n);
    if (n.IsScalar()) {
      t.value = n.Scalar();
    } else if (!n.IsNull()) {
      error(t.mark, std::string("'") + key + "' must be a string, not a " + (n.IsMap() ? "map" : "list"));
      t.given = false;
    }
    return t;
  }

  bool flag(const YAML::Node& map, const char* key) {
    YAML::Node n = get(map, key);
    if (!n || !n.IsScalar()) return false;
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      return false;  // reported by the schema
    }
  }

  std::vector<Text> id_list(const YAML::Node& map, const char* key, bool& given) {
    std::vector<Text> out;
    YAML::Node n = get(map, key);
    given = n.IsDefined() && !n.IsNull();
    if (!given) return out;
    if (n.IsScalar()) {  // `needs: build` is forgiven as a one-item list
      out.push_back({n.Scalar(), mark_of(n), true});
      return out;
    }
    if (!n.IsSequence()) return out;  // reported by the schema
    for (const auto& item : n)
      if (item.IsScalar()) out.push_back({item.Scalar(), mark_of(item), true});
    return out;
  }

  // `zero_ok`: a retry delay of 0s means "retry at once"; a timeout of 0 would kill every step.
  // `max` and `max_text`: the bound (docs/playbook.md), in the words of the message.
  std::optional<std::chrono::milliseconds> duration(const YAML::Node& map, const char* key, bool zero_ok,
                                                    std::chrono::milliseconds max, const char* max_text) {
    YAML::Node n = get(map, key);
    if (!n || !n.IsScalar()) return std::nullopt;
    auto d = parse_duration(n.Scalar());
    if (!d) return std::nullopt;  // a malformed one is reported by the schema
    if (d->count() <= 0 && !zero_ok) {
      error(mark_of(n), std::string("'") + key + "' must be longer than 0");
      return std::nullopt;
    }
    if (*d > max) {
      std::string shown = n.Scalar().size() <= 40 ? n.Scalar() : n.Scalar().substr(0, 32) + "...";
      error(mark_of(n), std::string("'") + key + "' must be at most " + max_text + ", not '" + shown + "'");
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::chrono::milliseconds> timeout(const YAML::Node& map) {
    return duration(map, "timeout", false, model::kMaxTimeout, "168h (7 days)");
  }

  std::optional<model::Retry> retry(const YAML::Node& map) {
    YAML::Node n = get(map, "retry");
    if (!n || !n.IsMap()) return std::nullopt;
    model::Retry r;
    if (auto a = get(n, "attempts"); a && a.IsScalar()) r.attempts = as_int(a).value_or(1);
    if (auto d = duration(n, "delay", true, model::kMaxRetryDelay, "24h (1 day)")) {
      r.delay = *d;
    }
    if (auto b = get(n, "backoff"); b && b.IsScalar()) r.backoff = as_double(b).value_or(1);
    return r;
  }

  std::vector<std::pair<std::string, Text>> env(const YAML::Node& map) {
    std::vector<std::pair<std::string, Text>> out;
    YAML::Node n = get(map, "env");
    if (!n || !n.IsMap()) return out;
    static const std::regex name("^[A-Za-z_][A-Za-z0-9_]*$");
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (!std::regex_match(key, name))
        error(mark_of(it->first), "'" + key + "' is not a valid environment variable name");
      if (!it->second.IsScalar() && !it->second.IsNull()) {
        error(mark_of(it->second),
              "'" + key + "' must be a string, not a " +
                  (it->second.IsMap() ? "map" : "list"));  // as the schema check says
        continue;
      }
      out.emplace_back(key, Text{it->second.IsScalar() ? it->second.Scalar() : "", mark_of(it->second), true});
    }
    return out;
  }

  void read_inputs(const YAML::Node& n, model::Playbook& pb) {
    if (!n || !n.IsMap()) return;
    static const std::regex name("^[A-Za-z_][A-Za-z0-9_-]*$");
    for (auto it = n.begin(); it != n.end(); ++it) {
      model::Input in;
      in.name = it->first.Scalar();
      in.mark = mark_of(it->first);
      if (!std::regex_match(in.name, name))
        error(in.mark, "'" + in.name + "' is not a valid input name (letters, digits, '_' and '-')");
      YAML::Node spec = it->second;
      if (spec.IsNull()) {
        pb.inputs.push_back(in);
        continue;
      }
      if (!spec.IsMap()) continue;  // reported by the schema
      in.description = text(spec, "description").value;
      Text type = text(spec, "type");
      if (type.value == "bool") in.type = model::InputType::Bool;
      if (type.value == "int") in.type = model::InputType::Int;
      in.required = flag(spec, "required");
      in.secret = flag(spec, "secret");
      in.env = text(spec, "env").value;
      if (in.secret && in.env.empty()) {
        for (char c : in.name)
          in.env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      Text pattern = text(spec, "pattern");
      if (pattern.given) {
        in.pattern = pattern;
        if (auto problem = expr::regex_problem(pattern.value)) {
          error(pattern.mark, "invalid regular expression in 'pattern': " + *problem);
          in.pattern.reset();
        } else
          try {
            std::regex re(pattern.value, std::regex::ECMAScript);
          } catch (const std::regex_error& e) {
            error(pattern.mark, "invalid regular expression in 'pattern': " + std::string(e.what()));
            in.pattern.reset();
          }
      }
      if (auto d = spec["default"]; d) {
        if (!d.IsScalar()) {
          error(mark_of(d), "the default of input '" + in.name + "' must be a single value");
        } else {
          in.default_value = to_model_node(d);
          check_default(in, d);
        }
      }
      if (in.required && in.default_value)
        warning(mark_of(key_node(spec, "required")),
                "input '" + in.name + "' is required and has a default: the default is never used");
      pb.inputs.push_back(in);
    }
  }

  void check_default(const model::Input& in, const YAML::Node& d) {
    const std::string& v = d.Scalar();
    if (in.type == model::InputType::Bool && v != "true" && v != "false") {
      error(mark_of(d), "default of bool input '" + in.name + "' must be true or false, not '" + v + "'");
    } else if (in.type == model::InputType::Int) {
      static const std::regex integer("^-?[0-9]+$");
      std::int64_t i = 0;
      if (!std::regex_match(v, integer))
        error(mark_of(d), "default of int input '" + in.name + "' must be an integer, not '" + v + "'");
      else if (std::from_chars(v.data(), v.data() + v.size(), i).ec != std::errc())
        error(mark_of(d),
              "default of int input '" + in.name + "' is out of range for an int " + kIntRange + ": '" + v + "'");
    } else if (in.pattern && !v.empty() &&
               !std::regex_search(v, std::regex(in.pattern->value, std::regex::ECMAScript))) {
      error(mark_of(d),
            "default '" + v + "' of input '" + in.name + "' does not match its pattern " + in.pattern->value);
    }
  }

  void read_vars(const YAML::Node& n, model::Playbook& pb) {
    if (!n || !n.IsMap()) return;
    static const std::regex name("^[A-Za-z_][A-Za-z0-9_-]*$");
    for (auto it = n.begin(); it != n.end(); ++it) {
      model::Var v;
      v.name = it->first.IsScalar() ? it->first.Scalar() : "";
      v.mark = mark_of(it->first);
      if (!std::regex_match(v.name, name))
        error(v.mark, "'" + v.name + "' is not a valid var name (letters, digits, '_' and '-')");
      v.value = to_model_node(it->second);
      pb.vars.push_back(std::move(v));
    }
  }

  void read_defaults(const YAML::Node& n, model::Defaults& d) {
    if (!n || !n.IsMap()) return;
    d.shell = text(n, "shell");
    d.workdir = text(n, "workdir");
    d.timeout = timeout(n);
    d.retry = retry(n);
    d.env = env(n);
  }

  model::Phase read_phase(const YAML::Node& n) {
    model::Phase ph;
    if (!n.IsMap()) return ph;  // reported by the schema
    ph.id = text(n, "id");
    ph.name = text(n, "name");
    ph.description = text(n, "description");
    ph.needs = id_list(n, "needs", ph.needs_given);
    ph.if_expr = text(n, "if");
    YAML::Node steps = n["steps"];
    if (steps && steps.IsSequence()) {
      if (steps.size() == 0 && ph.id.given) error(mark_of(steps), "phase '" + ph.id.value + "' has no steps");
      read_steps(steps, ph.steps);
      for (auto& step : ph.steps) step.phase = ph.id.value;
    } else if (steps && steps.IsNull() && ph.id.given) {
      error(mark_of(key_node(n, "steps")), "phase '" + ph.id.value + "' has no steps");
    }
    return ph;
  }

  // A list of steps, with its include entries expanded in place.
  void read_steps(const YAML::Node& list, std::vector<model::Step>& out) {
    for (const auto& s : list) {
      if (s.IsMap() && get(s, "include"))
        expand_include(s, out);
      else
        out.push_back(read_step(s));
    }
  }

  // `- {id: I, include: FILE, with: {...}, needs: [...]}`: the library's steps, as I-LOCAL.
  void expand_include(const YAML::Node& n, std::vector<model::Step>& out) {
    static const std::set<std::string> keys = {"id", "include", "with", "needs"};
    for (auto it = n.begin(); it != n.end(); ++it)
      if (it->first.IsScalar() && !keys.count(it->first.Scalar()))
        error(mark_of(it->first),
              "'" + it->first.Scalar() + "' does not apply to an include entry (it takes id, include, with and needs)");
    Text id = text(n, "id");
    Text file = text(n, "include");
    bool needs_given = false;
    std::vector<Text> needs = id_list(n, "needs", needs_given);
    if (!file.given || file.value.empty()) return;  // reported by the schema
    if (!id.given) {
      error(file.mark, "an include entry needs an id: its steps are named ID-STEP");
      return;
    }
    std::string path = (fs::path(file_).parent_path() / file.value).lexically_normal().string();
    if (std::find(chain_.begin(), chain_.end(), path) != chain_.end()) {
      std::string cycle;
      for (const auto& c : chain_) cycle += c + " -> ";
      error(file.mark, "include cycle: " + cycle + path);
      return;
    }
    if (chain_.size() >= 8) {
      error(file.mark, "includes nested more than 8 deep");
      return;
    }
    std::vector<std::string> chain = chain_;
    chain.push_back(path);
    std::string why;
    auto lib = load_library(path, diags_, chain, why);
    if (!lib) {
      if (!why.empty()) error(file.mark, why);
      return;
    }
    auto scope = std::make_shared<model::IncludeScope>();
    scope->id = id.value;
    scope->mark = id.mark;
    scope->file = path;
    scope->source = lib->source;
    scope->inputs = lib->inputs;
    scope->with_file = file_;
    scope->with_source = source_;
    std::vector<std::string> names;
    for (const auto& in : lib->inputs) names.push_back(in.name);
    if (auto w = get(n, "with"); w && w.IsMap()) {
      for (auto it = w.begin(); it != w.end(); ++it) {
        std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
        if (std::find(names.begin(), names.end(), k) == names.end()) {
          std::string msg = "'" + k + "' is not an input of " + file.value;
          if (auto best = closest(k, names); !best.empty())
            msg += " (did you mean '" + best + "'?)";
          else
            msg += names.empty() ? " (it has none)" : " (its inputs: " + join(names) + ")";
          error(mark_of(it->first), msg);
          continue;
        }
        scope->with.emplace_back(k, to_model_node(it->second));
      }
    }
    for (const auto& in : lib->inputs) {
      bool given =
          std::any_of(scope->with.begin(), scope->with.end(), [&](const auto& e) { return e.first == in.name; });
      if (in.required && !in.default_value && !given)
        error(id.mark,
              "include '" + id.value + "': " + file.value + " requires input '" + in.name + "': give it in with");
    }
    // The library's namespace (its steps, and its own include entries) is prefixed with ID-.
    const std::string prefix = id.value + "-";
    std::set<std::string> local;
    for (const auto& st : lib->steps) local.insert(st.id.value);
    for (const auto& g : lib->groups) local.insert(g.id);
    std::set<model::IncludeScope*> nested;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < lib->steps.size(); ++i) {
      model::Step st = lib->steps[i];
      std::string was = st.id.value;
      st.id.value = prefix + was;
      for (auto& need : st.needs)
        if (local.count(need.value)) need.value = prefix + need.value;
      if (!st.included) {
        st.included = scope;
        scope->locals[was] = st.id.value;
      } else {
        nested.insert(st.included.get());
      }
      if (i == 0 && !st.needs_given) {  // the library's first step waits for what the include entry says
        st.needs_given = needs_given;
        st.needs = needs;
      }
      ids.push_back(st.id.value);
      out.push_back(std::move(st));
    }
    for (auto* inner : nested) {
      for (auto& [k, v] : inner->locals) v = prefix + v;
      if (!inner->parent) inner->parent = scope;
    }
    for (auto g : lib->groups) {
      g.id = prefix + g.id;
      for (auto& s : g.steps) s = prefix + s;
      groups_.push_back(std::move(g));
    }
    groups_.push_back({id.value, ids, id.mark});
    includes_.push_back(scope);
  }

  static std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
  }

  model::Step read_step(const YAML::Node& n) {
    model::Step st;
    if (!n.IsMap()) return st;
    st.id = text(n, "id");
    st.name = text(n, "name");
    st.description = text(n, "description");
    st.needs = id_list(n, "needs", st.needs_given);
    st.if_expr = text(n, "if");
    if (auto pre = get(n, "preconditions"); pre && pre.IsSequence()) {
      for (const auto& p : pre) {
        if (p.IsScalar()) {  // `- git diff --quiet` is forgiven as {run: ...}
          st.preconditions.push_back({Text{p.Scalar(), mark_of(p), true}, Text{}});
        } else if (p.IsMap()) {
          st.preconditions.push_back({text(p, "run"), text(p, "message")});
        }
      }
    }
    st.done_if = text(n, "done_if");
    st.run = text(n, "run");
    st.uses = text(n, "uses");
    st.manual = text(n, "manual");
    if (auto w = get(n, "with"); w) {
      st.with = to_model_node(w);
      if (!st.uses.given) error(mark_of(key_node(n, "with")), "'with' is only for a step with 'uses'");
    }
    const char* action_keys[] = {"run", "uses", "manual"};
    std::vector<std::string> present;
    for (const char* key : action_keys) {
      YAML::Node k = key_node(n, key);
      if (!k.IsDefined()) continue;
      present.push_back(key);
      if (present.size() == 1) {
        st.action_mark = mark_of(k);
        st.action = key == std::string("run")    ? model::ActionKind::Run
                    : key == std::string("uses") ? model::ActionKind::Uses
                                                 : model::ActionKind::Manual;
      } else {
        error(mark_of(k), "step '" + st.id.value + "' has both '" + present[0] + "' and '" + key +
                              "': a step has exactly one action (run, uses or manual)");
      }
    }
    if (present.empty() && st.id.given)
      error(st.id.mark, "step '" + st.id.value + "' has no action: give it one of run, uses or manual");
    st.verify = text(n, "verify");
    st.env = env(n);
    st.workdir = text(n, "workdir");
    st.shell = text(n, "shell");
    st.timeout = timeout(n);
    st.retry = retry(n);
    st.lock = text(n, "lock");
    st.github_environment = text(n, "github_environment");
    st.idempotent = flag(n, "idempotent");
    st.irreversible = flag(n, "irreversible");
    st.continue_on_error = flag(n, "continue_on_error");
    if (auto fe = get(n, "for_each"); fe) st.for_each = to_model_node(fe);
    if (st.action == model::ActionKind::Run && !st.done_if.given && !st.idempotent && st.id.given)
      warning(st.action_mark, "step '" + st.id.value +
                                  "' runs a command with neither done_if nor idempotent: true; "
                                  "after a crash, resume may run it twice");
    return st;
  }

  std::string file_;
  std::string source_;
  SourceMap map_;
  Diagnostics& diags_;
  std::vector<std::string> chain_;
  std::vector<model::Playbook::IncludeGroup> groups_;
  std::vector<std::shared_ptr<model::IncludeScope>> includes_;
};

// ---- Semantic checks over the built model ----

class Checker {
 public:
  Checker(Builder& b, const model::Playbook& pb) : b_(b), pb_(pb) {}

  void run() {
    check_ids();
    build_scope();
    check_vars();
    check_defaults();
    for (const auto& ph : pb_.phases) {
      check_condition(ph.if_expr, false);
      check_phase_needs(ph);
      for (const auto& st : ph.steps) check_step(st);
    }
    // The `with` of this file's include entries, in this file's scope (the library's own steps
    // were checked in theirs when it was loaded).
    expr::StaticScope scope = scope_;
    scope.item = false;
    for (const auto& inc : b_.includes())
      for (const auto& [k, v] : inc->with) check_node(v, scope, false);
  }

 private:
  void check_ids() {
    std::map<std::string, Mark> seen;
    auto claim = [&](const Text& id, const char* kind) {
      if (!id.given || id.value.empty()) return;
      auto [it, fresh] = seen.emplace(id.value, id.mark);
      if (!fresh)
        b_.error(id.mark, std::string("duplicate ") + kind + " id '" + id.value + "' (first used at line " +
                              std::to_string(it->second.line) + ")");
    };
    for (const auto& ph : pb_.phases) {
      claim(ph.id, "phase");
      phase_ids_.insert(ph.id.value);
    }
    for (const auto& ph : pb_.phases)
      for (const auto& st : ph.steps) {
        claim(st.id, "step");
        step_ids_.insert(st.id.value);
        if (st.for_each)
          scope_.for_each_steps.insert(st.id.value);
        else
          scope_.steps.insert(st.id.value);
      }
    for (const auto& g : pb_.includes) {  // `needs: [ID]` of an include entry: all its steps
      claim(Text{g.id, g.mark, true}, "include");
      step_ids_.insert(g.id);
    }
  }

  static expr::StaticType static_type(const model::Node& n, const expr::StaticScope& scope) {
    using expr::StaticType;
    switch (n.kind) {
      case model::Node::Kind::List:
        return StaticType::ListValue;
      case model::Node::Kind::Map:
        return StaticType::MapValue;
      case model::Node::Kind::Scalar:
        break;
    }
    auto v = expr::from_node(n);
    if (v.is_bool()) return StaticType::Bool;
    if (v.is_int()) return StaticType::Int;
    auto t = expr::parse_template(n.scalar);
    if (!t.error && t.tmpl.single_expr()) {
      auto p = expr::parse(t.tmpl.parts[0].text);
      std::vector<expr::ExprError> ignored;
      if (p.expr) return expr::check(*p.expr, scope, ignored);
    }
    return StaticType::String;
  }

  void build_scope() {
    for (const auto& in : pb_.inputs)
      scope_.inputs[in.name] = in.type == model::InputType::Bool  ? expr::StaticType::Bool
                               : in.type == model::InputType::Int ? expr::StaticType::Int
                                                                  : expr::StaticType::String;
  }

  void check_vars() {
    // A var may read inputs and the vars declared before it.
    expr::StaticScope scope;
    scope.inputs = scope_.inputs;
    for (const auto& v : pb_.vars) {
      check_node(v.value, scope, false);
      scope.vars[v.name] = static_type(v.value, scope);
    }
    scope_.vars = scope.vars;
  }

  void check_defaults() {
    expr::StaticScope scope;  // defaults cannot read steps
    scope.inputs = scope_.inputs;
    scope.vars = scope_.vars;
    check_text(pb_.defaults.workdir, scope, false);
    for (const auto& [k, t] : pb_.defaults.env) check_text(t, scope, false);
  }

  // Reports parse errors and unknown references in every ${{ }} of `t`.
  void check_text(const Text& t, const expr::StaticScope& scope, bool shell) {
    (void)shell;
    if (!t.given || t.value.find("${{") == std::string::npos) return;
    auto parsed = expr::parse_template(t.value);
    if (parsed.error) {
      b_.error(b_.map().locate(t, parsed.error->offset), parsed.error->message);
      return;
    }
    for (const auto& part : parsed.tmpl.parts) {
      if (!part.is_expr) continue;
      check_expression(t, part.text, part.offset, scope);
    }
  }

  expr::StaticType check_expression(const Text& t, const std::string& text, std::size_t base,
                                    const expr::StaticScope& scope) {
    auto p = expr::parse(text);
    if (p.error) {
      b_.error(b_.map().locate(t, base + p.error->offset), "in expression '" + text + "': " + p.error->message);
      return expr::StaticType::Any;
    }
    std::vector<expr::ExprError> errors;
    auto type = expr::check(*p.expr, scope, errors);
    for (const auto& e : errors) b_.error(b_.map().locate(t, base + e.offset), e.message);
    return type;
  }

  void check_node(const model::Node& n, const expr::StaticScope& scope, bool shell) {
    switch (n.kind) {
      case model::Node::Kind::Scalar:
        check_text(Text{n.scalar, n.mark, true}, scope, shell);
        return;
      case model::Node::Kind::List:
        for (const auto& item : n.items) check_node(item, scope, shell);
        return;
      case model::Node::Kind::Map:
        for (const auto& [k, item] : n.entries) check_node(item, scope, shell);
        return;
    }
  }

  // `if:` is one expression, with or without ${{ }}.
  void check_condition(const Text& t, bool item) {
    if (!t.given) return;
    scope_.item = item;
    const expr::StaticScope& scope = scope_;
    if (t.value.find("${{") == std::string::npos) {
      check_expression(t, t.value, 0, scope);
      return;
    }
    auto parsed = expr::parse_template(t.value);
    if (!parsed.error && !parsed.tmpl.single_expr()) {
      b_.error(t.mark, "'if' must be a single expression, e.g. ${{ inputs.a && inputs.b }}");
      return;
    }
    check_text(t, scope, false);
  }

  void check_phase_needs(const model::Phase& ph) {
    for (const auto& need : ph.needs) {
      if (phase_ids_.count(need.value)) {
        if (need.value == ph.id.value) b_.error(need.mark, "phase '" + ph.id.value + "' needs itself");
        continue;
      }
      std::string msg = "unknown phase '" + need.value + "' in needs of phase '" + ph.id.value + "'";
      if (step_ids_.count(need.value))
        msg += " ('" + need.value + "' is a step; a phase needs phases)";
      else if (auto best = closest(need.value, {phase_ids_.begin(), phase_ids_.end()}); !best.empty())
        msg += " (did you mean '" + best + "'?)";
      b_.error(need.mark, msg);
    }
  }

  void check_step(const model::Step& st) {
    bool item = st.for_each.has_value();
    for (const auto& need : st.needs) {
      if (need.value == st.phase) {
        b_.error(need.mark, "step '" + st.id.value + "' needs its own phase '" + st.phase + "'");
      } else if (!step_ids_.count(need.value) && !phase_ids_.count(need.value)) {
        std::vector<std::string> all(step_ids_.begin(), step_ids_.end());
        all.insert(all.end(), phase_ids_.begin(), phase_ids_.end());
        std::string msg = "unknown step or phase '" + need.value + "' in needs of step '" + st.id.value + "'";
        if (auto best = closest(need.value, all); !best.empty()) msg += " (did you mean '" + best + "'?)";
        b_.error(need.mark, msg);
      }
    }
    if (st.included) return;  // its expressions were checked in its library's scope
    check_condition(st.if_expr, item);
    scope_.item = item;
    const expr::StaticScope& scope = scope_;
    for (const auto& pre : st.preconditions) {
      check_text(pre.run, scope, true);
      check_text(pre.message, scope, false);
    }
    check_text(st.name, scope, false);
    check_text(st.done_if, scope, true);
    check_text(st.run, scope, true);
    check_text(st.manual, scope, false);
    check_text(st.verify, scope, true);
    check_text(st.workdir, scope, false);
    for (const auto& [k, t] : st.env) check_text(t, scope, false);
    if (st.with) check_node(*st.with, scope, false);
    scope_.item = false;
    if (st.for_each) check_for_each(st, *st.for_each);
  }

  void check_for_each(const model::Step& st, const model::Node& fe) {
    const expr::StaticScope& scope = scope_;  // item is false: the list itself cannot use it
    if (fe.kind == model::Node::Kind::List) {
      if (fe.items.empty()) b_.error(fe.mark, "for_each of step '" + st.id.value + "' is an empty list");
      std::set<std::string> seen;
      for (std::size_t i = 0; i < fe.items.size(); ++i) {
        const auto& item = fe.items[i];
        check_node(item, scope, false);
        std::string key = item.kind == model::Node::Kind::Scalar ? item.scalar : std::to_string(i);
        if (!seen.insert(key).second)
          b_.error(item.mark, "for_each of step '" + st.id.value + "' lists '" + key + "' twice");
      }
      return;
    }
    if (fe.kind == model::Node::Kind::Map) {
      b_.error(fe.mark, "for_each of step '" + st.id.value + "' must be a list, not a map");
      return;
    }
    Text t{fe.scalar, fe.mark, true};
    auto parsed = expr::parse_template(fe.scalar);
    if (parsed.error || !parsed.tmpl.single_expr()) {
      if (parsed.error)
        b_.error(b_.map().locate(t, parsed.error->offset), parsed.error->message);
      else
        b_.error(fe.mark, "for_each of step '" + st.id.value + "' must be a list or a ${{ }} expression giving one");
      return;
    }
    const auto& part = parsed.tmpl.parts[0];
    auto type = check_expression(t, part.text, part.offset, scope);
    if (type != expr::StaticType::ListValue && type != expr::StaticType::Any)
      b_.error(b_.map().locate(t, part.offset), "for_each of step '" + st.id.value + "' must be a list, but '" +
                                                    part.text + "' is a " + expr::static_type_name(type));
  }

  Builder& b_;
  const model::Playbook& pb_;
  std::set<std::string> phase_ids_;
  std::set<std::string> step_ids_;
  expr::StaticScope scope_;
};

}  // namespace

namespace {

// yaml-cpp 0.7 can loop forever on some malformed inputs (found by fuzzing: a stray ',' in block
// context makes LoadAll emit nodes until memory runs out). A first pass with this handler counts
// the parser's events and stops it when there are far more events than the text could hold.
class EventBudget : public YAML::EventHandler {
 public:
  explicit EventBudget(std::size_t limit) : limit_(limit) {}
  void OnDocumentStart(const YAML::Mark&) override { spend(); }
  void OnDocumentEnd() override { spend(); }
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { spend(); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { spend(); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override { spend(); }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    spend();
  }
  void OnSequenceEnd() override { spend(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    spend();
  }
  void OnMapEnd() override { spend(); }
  struct Stop {};

 private:
  void spend() {
    if (++events_ > limit_) throw Stop{};
  }
  std::size_t limit_;
  std::size_t events_ = 0;
};

bool parses_within_budget(const std::string& source) {
  std::istringstream in(source);
  YAML::Parser parser(in);
  EventBudget budget(4 * source.size() + 64);
  try {
    while (parser.HandleNextDocument(budget)) {
    }
  } catch (const EventBudget::Stop&) {
    return false;
  } catch (const YAML::Exception&) {
    return true;  // a syntax error: LoadAll reports it with its position
  }
  return true;
}

}  // namespace

namespace {

// SHA-256 (libcrypto), as the 64 lowercase hex digits sha256sum prints.
std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed (libcrypto)");
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string content_hash(const std::string& source) { return "sha256:" + sha256_hex(source); }

std::string validator_id() {
  static const std::string id =
      std::string("relengine ") + RELENGINE_VERSION + " schema sha256:" + sha256_hex(kPlaybookSchema);
  return id;
}

namespace {

// Parses, schema-checks and checks a library of steps; its problems go to `diags`, positioned in
// it. nullopt when it has errors; `why` then says what to report at the include entry, if anything.
std::optional<Library> load_library(const std::string& path, Diagnostics& diags, std::vector<std::string> chain,
                                    std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot read the library " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  Library lib;
  lib.source = buf.str();
  std::size_t errors_before = diags.error_count();
  if (!parses_within_budget(lib.source)) {
    diags.error(path, {1, 1, 0}, "the YAML parser cannot make sense of this file (it does not terminate)");
    return std::nullopt;
  }
  YAML::Node root;
  try {
    auto docs = YAML::LoadAll(lib.source);
    if (docs.size() == 1) root = docs[0];
  } catch (const YAML::Exception& e) {
    model::Mark m;
    if (!e.mark.is_null()) m.line = e.mark.line + 1, m.col = e.mark.column + 1;
    diags.error(path, m, "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (!root.IsMap()) {
    diags.error(path, {1, 1, 0}, "a library of steps is one YAML map with version, kind: steps, inputs and steps");
    return std::nullopt;
  }
  if (root["phases"]) {
    why = path + " is a playbook, not a library of steps (kind: steps): a playbook cannot be included";
    return std::nullopt;
  }
  check_library_schema(root, path, diags);
  Builder builder(path, lib.source, diags, chain);
  builder.build_library(root, lib.inputs, lib.steps);
  lib.groups = builder.groups();
  // Its checks, as for a playbook of one phase: the library's inputs and steps are its scope.
  model::Playbook as_playbook;
  as_playbook.path = path;
  as_playbook.source = lib.source;
  as_playbook.inputs = lib.inputs;
  as_playbook.phases.emplace_back();
  as_playbook.phases.back().steps = lib.steps;
  as_playbook.includes = lib.groups;
  Checker(builder, as_playbook).run();
  if (diags.error_count() > errors_before) return std::nullopt;
  return lib;
}

}  // namespace

LoadResult load_text(const std::string& path, const std::string& source, const LoadOptions& options) {
  LoadResult out;
  std::vector<YAML::Node> docs;
  if (!options.structure_known_valid && !parses_within_budget(source)) {
    out.diags.error(path, {1, 1, 0},
                    "the YAML parser cannot make sense of this file (it does not terminate); "
                    "check the indentation and stray ',' or '-' characters");
    return out;
  }
  try {
    docs = YAML::LoadAll(source);
  } catch (const YAML::Exception& e) {
    model::Mark m;
    if (!e.mark.is_null()) {
      m.line = e.mark.line + 1;
      m.col = e.mark.column + 1;
    }
    out.diags.error(path, m, "YAML syntax error: " + e.msg);
    return out;
  }
  if (docs.empty() || docs[0].IsNull()) {
    out.diags.error(path, {1, 1, 0}, "the playbook is empty");
    return out;
  }
  if (docs.size() > 1) {
    out.diags.error(path, mark_of(docs[1]),
                    "a playbook is one YAML document; this file has " + std::to_string(docs.size()));
    return out;
  }
  const YAML::Node& root = docs[0];
  if (!root.IsMap()) {
    out.diags.error(path, mark_of(root), "a playbook is a map with version, name and phases");
    return out;
  }
  if (!options.structure_known_valid) check_schema(root, path, out.diags);
  Builder builder(path, source, out.diags);
  model::Playbook pb = builder.build(root);
  pb.path = path;
  pb.source = source;
  Checker(builder, pb).run();
  if (!out.diags.has_errors()) out.playbook = std::move(pb);
  return out;
}

LoadResult load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult out;
    out.diags.error(path, {}, "cannot read the playbook: " + std::string(std::strerror(errno)));
    return out;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return load_text(path, buf.str());
}

}  // namespace relengine::load
