#include "load/schema_check.h"

// Without this valijson calls abort() on an internal error instead of throwing.
#define VALIJSON_USE_EXCEPTIONS 1

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/adapters/yaml_cpp_adapter.hpp>

// valijson 1.0 (Debian 12) steps its array iterators backwards for uniqueItems, which the
// yaml-cpp adapter's forward iterator cannot do, so the validator does not compile for it.
// Our schema uses no uniqueItems; this makes the never-taken path compile and fail loudly.
namespace valijson::adapters {
inline YamlCppArrayValueIterator operator--(YamlCppArrayValueIterator&&) {
  throw std::logic_error("uniqueItems is not supported on YAML documents");
}
}  // namespace valijson::adapters
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "load/yaml_nodes.h"

namespace relengine::load {

namespace {

using json = nlohmann::json;

// valijson names only the first unknown key of an object when additionalProperties is false;
// `{"not": {}}` is equivalent and makes it report every unknown key at its own path.
void expand_additional_properties(json& schema) {
  if (schema.is_object()) {
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (it.key() == "additionalProperties" && it.value().is_boolean() && !it.value().get<bool>())
        it.value() = json{{"not", json::object()}};
      else
        expand_additional_properties(it.value());
    }
  } else if (schema.is_array()) {
    for (auto& item : schema) expand_additional_properties(item);
  }
}

struct CompiledSchema {
  json document;  // the schema as written, for messages (allowed keys and values)
  valijson::Schema schema;
  // The `with` schema of each built-in action. The schema file selects it with an if/then per
  // action on every step (for editors); evaluating five conditionals on each of 10,000 steps
  // was a fifth of `validate`'s time, so the loader checks `with` only where `uses` names an action.
  std::map<std::string, std::unique_ptr<valijson::Schema>> with_schemas;

  CompiledSchema() : document(json::parse(kPlaybookSchema)) {
    json relaxed = document;
    expand_additional_properties(relaxed);
    json& step = relaxed["definitions"]["step"];
    if (step.contains("allOf")) {
      for (const auto& branch : step["allOf"]) {
        std::string action = branch["if"]["properties"]["uses"]["const"].get<std::string>();
        json sub = {{"$ref", branch["then"]["properties"]["with"]["$ref"]}, {"definitions", relaxed["definitions"]}};
        auto compiled_with = std::make_unique<valijson::Schema>();
        valijson::SchemaParser sub_parser;
        valijson::adapters::NlohmannJsonAdapter sub_adapter(sub);
        sub_parser.populateSchema(sub_adapter, *compiled_with);
        with_schemas[action] = std::move(compiled_with);
      }
      step.erase("allOf");
    }
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(relaxed);
    parser.populateSchema(adapter, schema);
  }
};

const CompiledSchema& compiled() {
  static const CompiledSchema instance;
  return instance;
}

const json* resolve(const json* s) {
  const json& root = compiled().document;
  for (int guard = 0; s && s->is_object() && s->contains("$ref") && guard < 16; ++guard) {
    std::string ref = (*s)["$ref"].get<std::string>();
    if (ref.rfind("#/", 0) != 0) return nullptr;
    s = &root.at(json::json_pointer(ref.substr(1)));
  }
  return s;
}

// The subschema that applies to `key` of an object described by `s`, given the object's YAML
// (to pick the `then` branch of an if/then on `uses`).
const json* property_schema(const json* s, const YAML::Node& object, const std::string& key) {
  s = resolve(s);
  if (!s || !s->is_object()) return nullptr;
  if (s->contains("allOf") && object.IsMap()) {
    for (const auto& branch : (*s)["allOf"]) {
      if (!branch.contains("if") || !branch.contains("then")) continue;
      const auto& cond = branch["if"]["properties"];
      bool match = true;
      for (auto it = cond.begin(); it != cond.end(); ++it) {
        YAML::Node v = object[it.key()];
        if (!v || !v.IsScalar() || !it.value().contains("const") ||
            v.Scalar() != it.value()["const"].get<std::string>())
          match = false;
      }
      if (match && branch["then"].contains("properties") && branch["then"]["properties"].contains(key))
        return resolve(&branch["then"]["properties"][key]);
    }
  }
  if (s->contains("properties") && (*s)["properties"].contains(key)) return resolve(&(*s)["properties"][key]);
  if (s->contains("additionalProperties") && (*s)["additionalProperties"].is_object())
    return resolve(&(*s)["additionalProperties"]);
  return nullptr;
}

std::vector<std::string> known_keys(const json* s) {
  std::vector<std::string> out;
  s = resolve(s);
  if (s && s->contains("properties"))
    for (auto it = (*s)["properties"].begin(); it != (*s)["properties"].end(); ++it) out.push_back(it.key());
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

struct Located {
  YAML::Node node;                               // the value at the path
  YAML::Node key{YAML::NodeType::Undefined};     // its key, when it is an object member
  YAML::Node parent{YAML::NodeType::Undefined};  // the object or list holding it
  const json* schema = nullptr;                  // the subschema of the value
  const json* parent_schema = nullptr;
  bool found = true;
  std::string item_of;  // for a list item: "item 2 of 'steps'"
};

// Walks valijson's context ("<root>", "[phases]", "[0]", ...) through the YAML and the schema.
Located walk(const YAML::Node& root, const std::vector<std::string>& context) {
  // YAML::Node's operator= writes into the document; reset() rebinds the handle.
  Located at;
  at.node.reset(root);
  at.schema = resolve(&compiled().document);
  for (std::size_t i = 1; i < context.size(); ++i) {
    const std::string& raw = context[i];
    std::string seg = raw.size() >= 2 && raw.front() == '[' && raw.back() == ']' ? raw.substr(1, raw.size() - 2) : raw;
    at.parent.reset(at.node);
    at.parent_schema = at.schema;
    if (at.node.IsMap()) {
      bool hit = false;
      for (auto it = at.node.begin(); it != at.node.end(); ++it) {
        if (it->first.IsScalar() && it->first.Scalar() == seg) {
          at.key.reset(it->first);
          at.node.reset(it->second);
          hit = true;
          break;
        }
      }
      at.schema = property_schema(at.parent_schema, at.parent, seg);
      if (!hit) {
        at.found = false;
        return at;
      }
    } else if (at.node.IsSequence()) {
      std::size_t index = std::stoul(seg);
      if (index >= at.node.size()) {
        at.found = false;
        return at;
      }
      at.item_of = "item " + std::to_string(index + 1) + " of " +
                   (at.key.IsDefined() && at.key.IsScalar() ? "'" + at.key.Scalar() + "'" : "the list");
      at.key.reset(YAML::Node(YAML::NodeType::Undefined));
      YAML::Node item = at.node[index];
      at.node.reset(item);
      const json* s = resolve(at.schema);
      at.schema = s && s->contains("items") ? resolve(&(*s)["items"]) : nullptr;
    } else {
      at.found = false;
      return at;
    }
  }
  return at;
}

bool expects_scalar(const json* s) {
  if (!s || !s->contains("type")) return false;
  const json& t = (*s)["type"];
  auto scalar = [](const std::string& n) { return n != "object" && n != "array"; };
  if (t.is_string()) return scalar(t.get<std::string>());
  for (const auto& n : t)
    if (!scalar(n.get<std::string>())) return false;
  return true;
}

// What the blanking pass asks of a (resolved) subschema, worked out once per subschema: the
// compiled schema never changes, so its nodes' addresses are stable keys.
struct SchemaFacts {
  bool scalar = false;    // expects a scalar (string, number, boolean)
  bool has_enum = false;  // one of a list
};

const SchemaFacts& facts_of(const json* s) {
  thread_local std::unordered_map<const json*, SchemaFacts> memo;
  auto [it, inserted] = memo.try_emplace(s);
  if (inserted && s) it->second = {expects_scalar(s), s->contains("enum")};
  return it->second;
}

// The `then` properties of the `allOf` branch whose `if` the object matches (the schema of a
// step's `with` depends on its `uses`); nullptr when none does. Once per object, not per key.
const json* matching_then_properties(const json* s, const YAML::Node& object) {
  if (!s || !s->is_object() || !object.IsMap()) return nullptr;
  auto all_of = s->find("allOf");
  if (all_of == s->end()) return nullptr;
  for (const auto& branch : *all_of) {
    if (!branch.contains("if") || !branch.contains("then")) continue;
    const auto& cond = branch["if"]["properties"];
    bool match = true;
    for (auto it = cond.begin(); it != cond.end() && match; ++it) {
      YAML::Node v = object[it.key()];
      match = v && v.IsScalar() && it.value().contains("const") && v.Scalar() == it.value()["const"].get<std::string>();
    }
    if (match && branch["then"].contains("properties")) return &branch["then"]["properties"];
  }
  return nullptr;
}

// property_schema() with the matching branch found beforehand.
const json* property_schema_in(const json* s, const json* then_properties, const std::string& key) {
  if (!s || !s->is_object()) return nullptr;
  if (then_properties)
    if (auto it = then_properties->find(key); it != then_properties->end()) return resolve(&*it);
  if (auto props = s->find("properties"); props != s->end())
    if (auto it = props->find(key); it != props->end()) return resolve(&*it);
  if (auto extra = s->find("additionalProperties"); extra != s->end() && extra->is_object()) return resolve(&*extra);
  return nullptr;
}

// One step of the path from the root to a node: a map's key or a list's index. The path's text
// (valijson's context, `[key]`) is only made for the nodes that are blanked.
struct PathStep {
  const std::string* key = nullptr;
  std::size_t index = 0;
};

std::vector<std::string> context_of(const std::vector<PathStep>& path) {
  std::vector<std::string> out{"<root>"};
  for (const auto& p : path) out.push_back("[" + (p.key ? *p.key : std::to_string(p.index)) + "]");
  return out;
}

// "'timeout' must be a string, not a map", "item 2 of 'needs' must be a string, not a list": the
// loader's words for the fields it reads as text (the same message at the same place is shown once).
std::string misplaced_message(const std::vector<PathStep>& path, const YAML::Node& node) {
  std::string what;
  const PathStep& last = path.back();
  if (last.key) {
    what = "'" + *last.key + "'";
  } else {
    const PathStep* parent = path.size() >= 2 ? &path[path.size() - 2] : nullptr;
    what = "item " + std::to_string(last.index + 1) + " of " +
           (parent && parent->key ? "'" + *parent->key + "'" : std::string("the list"));
  }
  return what + " must be a string, not a " + (node.IsMap() ? "map" : "list");
}

// The yaml-cpp adapter calls every node a string, so valijson would run string checks
// (pattern, enum) on a map and throw. In a copy of the document, such nodes become empty
// scalars, and each is reported here, at its place, instead of by valijson (`misplaced`: the
// messages, collected by the read-only pass).
void blank_misplaced_collections(YAML::Node node, const json* schema, std::vector<PathStep>& path,
                                 std::set<std::vector<std::string>>& blanked, bool apply,
                                 std::vector<std::pair<model::Mark, std::string>>* misplaced = nullptr) {
  schema = resolve(schema);
  if (!schema) return;
  auto visit = [&](YAML::Node child, const json* sub, PathStep step, auto&& replace) {
    path.push_back(step);
    const SchemaFacts& f = facts_of(sub);
    if ((child.IsMap() || child.IsSequence()) && f.scalar) {
      blanked.insert(context_of(path));
      if (misplaced) misplaced->emplace_back(mark_of(child), misplaced_message(path, child));
      if (apply) replace();
    } else if (child.IsNull() && f.has_enum) {
      // An empty value where one of a list is expected (`shell:`, `shell: null`): valijson's
      // enum check would throw on it; as "" it fails the check, reported at its line as usual.
      auto marker = context_of(path);
      marker.push_back("<empty>");  // forces the copy; no message of valijson's is suppressed
      blanked.insert(marker);
      if (apply) replace();
    } else if (child.IsMap() || child.IsSequence()) {
      blank_misplaced_collections(child, sub, path, blanked, apply, misplaced);
    }
    path.pop_back();
  };
  if (node.IsMap()) {
    const json* then_properties = matching_then_properties(schema, node);
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      visit(it->second, property_schema_in(schema, then_properties, key), PathStep{&key, 0},
            [&] { it->second = YAML::Node(""); });
    }
  } else if (node.IsSequence()) {
    auto items_it = schema->find("items");
    if (items_it == schema->end()) return;
    const json* items = resolve(&*items_it);
    for (std::size_t i = 0; i < node.size(); ++i)
      visit(node[i], items, PathStep{nullptr, i}, [&] { node[i] = YAML::Node(""); });
  }
}

bool is_aggregate(const std::string& description) { return description.rfind("Failed to validate", 0) == 0; }

std::string describe_type(const json* s) {
  if (!s || !s->contains("type")) return "a different type";
  const json& t = (*s)["type"];
  std::vector<std::string> names;
  auto add = [&](const std::string& n) {
    names.push_back(n == "object"    ? "a map"
                    : n == "array"   ? "a list"
                    : n == "boolean" ? "true or false"
                    : n == "integer" ? "an integer"
                    : n == "number"  ? "a number"
                                     : "a " + n);
  };
  if (t.is_array())
    for (const auto& n : t) add(n.get<std::string>());
  else
    add(t.get<std::string>());
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

std::string what(const Located& at) {
  if (!at.key.IsDefined() || !at.key.IsScalar()) return at.item_of.empty() ? "this item" : at.item_of;
  return "'" + at.key.Scalar() + "'";
}

// Rewrites one valijson error as a user-facing message positioned at the offending node.
Diagnostic translate(const YAML::Node& root, const std::string& file, const valijson::ValidationResults::Error& err) {
  Diagnostic d;
  d.file = file;
  Located at = walk(root, err.context);
  d.mark = mark_of(at.node);
  const std::string& desc = err.description;
  const json* s = at.schema;
  if (!at.found) {
    d.message = desc;
    return d;
  }
  if (s == nullptr && at.key.IsDefined() && at.parent.IsMap()) {
    // A key the schema does not know (additionalProperties).
    d.mark = mark_of(at.key);
    auto keys = known_keys(at.parent_schema);
    std::string key = at.key.Scalar();
    std::string best = closest(key, keys);
    d.message = "unknown key '" + key + "'";
    if (!best.empty())
      d.message += " (did you mean '" + best + "'?)";
    else if (!keys.empty())
      d.message += " (known keys: " + join(keys) + ")";
    return d;
  }
  if (desc.rfind("Missing required property", 0) == 0) {
    auto q1 = desc.find('\'');
    auto q2 = desc.rfind('\'');
    std::string prop = q1 != std::string::npos && q2 > q1 ? desc.substr(q1 + 1, q2 - q1 - 1) : "?";
    std::string holder = at.key.IsDefined() && at.key.IsScalar() ? "'" + at.key.Scalar() + "'"
                         : at.parent.IsDefined()                 ? (at.item_of.empty() ? "this item" : at.item_of)
                                                                 : "the playbook";
    d.message = "missing required key '" + prop + "' in " + holder;
    return d;
  }
  if (desc == "Failed to match against any enum values.") {
    std::vector<std::string> allowed;
    if (s && s->contains("enum"))
      for (const auto& v : (*s)["enum"]) allowed.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    if (at.node.IsNull()) {
      d.message = what(at) + " is empty; it must be one of: " + join(allowed);
      if (at.key.IsDefined()) d.mark = mark_of(at.key);  // an empty value has no place of its own
    } else
      d.message = what(at) + ": '" + (at.node.IsScalar() ? at.node.Scalar() : std::string("this value")) +
                  "' is not one of: " + join(allowed);
    return d;
  }
  if (desc.rfind("Value type not permitted", 0) == 0) {
    d.message = what(at) + " must be " + describe_type(s);
    if (at.node.IsScalar()) d.message += ", not '" + at.node.Scalar() + "'";
    return d;
  }
  if (desc.rfind("Failed to match regex", 0) == 0) {
    std::string pattern = s && s->contains("pattern") ? (*s)["pattern"].get<std::string>() : "";
    std::string got = at.node.IsScalar() ? at.node.Scalar() : "";
    if (pattern == "^([0-9]+(ms|s|m|h))+$")
      d.message = what(at) + ": '" + got + "' is not a duration (use a number with s, m or h, e.g. 30s, 10m, 1h30m)";
    else if (pattern == "^[a-z0-9][a-z0-9-]*$")
      d.message = what(at) + ": '" + got +
                  "' is not a valid id (lowercase letters, digits and '-', starting with a letter or digit)";
    else
      d.message = what(at) + ": '" + got + "' does not match " + pattern;
    return d;
  }
  if (desc.rfind("Expected number greater", 0) == 0 || desc.rfind("Expected number less", 0) == 0) {
    std::string got = at.node.IsScalar() ? at.node.Scalar() : "";
    std::string bound;
    if (s && s->contains("minimum")) bound += "at least " + (*s)["minimum"].dump();
    if (s && s->contains("maximum"))
      bound += std::string(bound.empty() ? "" : " and ") + "at most " + (*s)["maximum"].dump();
    d.message = what(at) + " must be " + bound + ", not " + got;
    return d;
  }
  if (desc.rfind("Array should contain", 0) == 0 || desc.rfind("Array must contain", 0) == 0) {
    d.message = what(at) + " must not be empty";
    return d;
  }
  d.message = what(at) + ": " + desc;
  return d;
}

// Keys that are not text: a list or map used as a key (`[a, b]: c`, `? - a`), or an empty one
// (`: a`). The schema check cannot look at such a document (valijson sees keys as strings), and no
// playbook has one; each is reported at its own position.
bool report_keys_not_text(const YAML::Node& node, const std::string& file, Diagnostics& diags,
                          std::vector<YAML::Node>& ancestors) {
  // An alias may make the document a loop (`a: &x [*x]`), and nesting may be deep: each node is
  // looked at once on a path, to a depth no playbook comes near.
  if (ancestors.size() > 256 ||
      std::any_of(ancestors.begin(), ancestors.end(), [&](const YAML::Node& a) { return a.is(node); }))
    return false;
  bool found = false;
  ancestors.push_back(node);
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsMap() || it->first.IsSequence()) {
        diags.error(file, mark_of(it->first),
                    std::string("a key must be text, not ") + (it->first.IsMap() ? "a map" : "a list"));
        found = true;
      } else if (it->first.IsNull() && (it->first.Tag() == "" || it->first.Tag() == "?" || it->first.Tag() == "!")) {
        diags.error(file, mark_of(it->first), "a key is empty (a ':' with nothing before it, or '?' alone)");
        found = true;
      }
      found = report_keys_not_text(it->second, file, diags, ancestors) || found;
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) found = report_keys_not_text(item, file, diags, ancestors) || found;
  }
  ancestors.pop_back();
  return found;
}

}  // namespace

void check_schema(const YAML::Node& root, const std::string& file, Diagnostics& diags) {
  if (std::vector<YAML::Node> ancestors; report_keys_not_text(root, file, diags, ancestors)) return;
  valijson::Validator validator(valijson::Validator::kWeakTypes);
  valijson::ValidationResults results;
  // A first, read-only pass finds the misplaced collections; the document is copied (to be
  // blanked there) only when there are some, which is rare: copying 10,000 steps is not free.
  std::vector<PathStep> path;
  std::set<std::vector<std::string>> blanked;  // reported below, not by valijson
  std::vector<std::pair<model::Mark, std::string>> misplaced;
  blank_misplaced_collections(root, &compiled().document, path, blanked, false, &misplaced);
  for (auto& [mark, message] : misplaced) diags.error(file, mark, std::move(message));
  YAML::Node copy = root;
  if (!blanked.empty()) {
    copy.reset(YAML::Clone(root));  // reset: operator= would write into root itself
    blanked.clear();
    blank_misplaced_collections(copy, &compiled().document, path, blanked, true);
  }
  std::set<std::pair<int, int>> reported;  // one message per node
  valijson::adapters::YamlCppAdapter target(copy);
  try {
    validator.validate(compiled().schema, target, &results);
  } catch (const std::exception& e) {
    diags.error(file, mark_of(root), std::string("the schema check stopped early: ") + e.what());
  }
  // Each step's `with`, against the schema of the action its `uses` names.
  const YAML::Node& view = copy;
  if (const YAML::Node phases = view["phases"]; phases && phases.IsSequence()) {
    for (std::size_t p = 0; p < phases.size(); ++p) {
      if (!phases[p].IsMap()) continue;
      const YAML::Node steps = phases[p]["steps"];
      if (!steps || !steps.IsSequence()) continue;
      for (std::size_t i = 0; i < steps.size(); ++i) {
        const YAML::Node step = steps[i];
        if (!step.IsMap() || !step["uses"] || !step["uses"].IsScalar() || !step["with"]) continue;
        auto it = compiled().with_schemas.find(step["uses"].Scalar());
        if (it == compiled().with_schemas.end()) continue;
        valijson::ValidationResults sub;
        valijson::adapters::YamlCppAdapter with_target(step["with"]);
        try {
          validator.validate(*it->second, with_target, &sub);
        } catch (const std::exception& e) {
          diags.error(file, mark_of(root), std::string("the schema check stopped early: ") + e.what());
        }
        const std::vector<std::string> base = {
            "<root>", "[phases]", "[" + std::to_string(p) + "]", "[steps]", "[" + std::to_string(i) + "]", "[with]"};
        valijson::ValidationResults::Error err;
        while (sub.popError(err)) {
          std::vector<std::string> where = base;
          where.insert(where.end(), err.context.begin() + (err.context.empty() ? 0 : 1), err.context.end());
          results.pushError(where, err.description);
        }
      }
    }
  }
  std::vector<valijson::ValidationResults::Error> errors(results.begin(), results.end());
  // Keep the most specific errors: drop summaries ("Failed to validate ...") of a subtree
  // that has a more specific error of its own.
  for (const auto& err : errors) {
    if (blanked.count(err.context)) continue;
    if (is_aggregate(err.description)) {
      bool has_specific = std::any_of(errors.begin(), errors.end(), [&](const auto& other) {
        return !is_aggregate(other.description) && other.context.size() >= err.context.size() &&
               std::equal(err.context.begin(), err.context.end(), other.context.begin());
      });
      if (has_specific) continue;
    }
    Diagnostic d = translate(root, file, err);
    if (!reported.insert({d.mark.line, d.mark.col}).second) continue;
    diags.add(std::move(d));
  }
}

void check_library_schema(const YAML::Node& root, const std::string& file, Diagnostics& diags) {
  static const std::vector<std::string> keys = {"version", "kind", "description", "inputs", "steps"};
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
    if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
    std::string msg = "unknown key '" + k + "' in a library of steps";
    if (auto best = closest(k, keys); !best.empty()) msg += " (did you mean '" + best + "'?)";
    diags.error(file, mark_of(it->first), msg);
  }
  const YAML::Node kind = root["kind"];
  if (!kind)
    diags.error(file, mark_of(root), "a library of steps says so: kind: steps");
  else if (!kind.IsScalar() || kind.Scalar() != "steps")
    diags.error(file, mark_of(kind), "'kind' of a library must be 'steps'");
  const YAML::Node version = root["version"];
  if (!version) diags.error(file, mark_of(root), "a library of steps needs 'version: 1'");
  const YAML::Node steps = root["steps"];
  if (!steps) {
    diags.error(file, mark_of(root), "a library of steps needs 'steps'");
    return;
  }
  // Its inputs and steps are checked as those of a playbook of one phase: the nodes are the
  // library's own, so every message points into it.
  YAML::Node phase(YAML::NodeType::Map);
  phase["id"] = "library";
  phase["steps"] = steps;
  YAML::Node wrapper(YAML::NodeType::Map);
  wrapper["version"] = version ? version : YAML::Node(1);
  wrapper["name"] = "library";
  if (root["inputs"]) wrapper["inputs"] = root["inputs"];
  wrapper["phases"].push_back(phase);
  check_schema(wrapper, file, diags);
}

}  // namespace relengine::load
