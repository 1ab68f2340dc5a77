#include "expr/value.h"

#include <charconv>
#include <climits>
#include <nlohmann/json.hpp>

namespace relengine::expr {

const Value* Value::field(const std::string& key) const {
  if (!is_map()) return nullptr;
  for (const auto& [k, val] : map())
    if (k == key) return &val;
  return nullptr;
}

namespace {

nlohmann::ordered_json json_of(const Value& value) {
  struct Visitor {
    nlohmann::ordered_json operator()(const std::string& s) const { return s; }
    nlohmann::ordered_json operator()(bool b) const { return b; }
    nlohmann::ordered_json operator()(std::int64_t i) const { return i; }
    nlohmann::ordered_json operator()(const List& l) const {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& item : l) out.push_back(json_of(item));
      return out;
    }
    nlohmann::ordered_json operator()(const Map& m) const {
      nlohmann::ordered_json out = nlohmann::ordered_json::object();
      for (const auto& [k, val] : m) out[k] = json_of(val);
      return out;
    }
    nlohmann::ordered_json operator()(const Unknown& u) const { return "${{ " + u.text + " }}"; }
  };
  return std::visit(Visitor{}, value.v);
}

Value value_of(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::string:
      return j.get<std::string>();
    case nlohmann::json::value_t::boolean:
      return j.get<bool>();
    case nlohmann::json::value_t::number_integer:
      return j.get<std::int64_t>();
    case nlohmann::json::value_t::number_unsigned: {
      auto u = j.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return j.dump();  // keeps its digits, never wraps
      return static_cast<std::int64_t>(u);
    }
    case nlohmann::json::value_t::number_float:
      return j.dump();
    case nlohmann::json::value_t::array: {
      List out;
      for (const auto& item : j) out.push_back(value_of(item));
      return out;
    }
    case nlohmann::json::value_t::object: {
      Map out;
      for (auto it = j.begin(); it != j.end(); ++it) out.emplace_back(it.key(), value_of(it.value()));
      return out;
    }
    default:
      return std::string();  // null
  }
}

}  // namespace

std::optional<Value> from_json(std::string_view text, std::string* error) {
  // Nesting is bounded: a hostile output must not exhaust the engine's stack (the parser drops
  // what is deeper, and the text is refused).
  bool too_deep = false;
  auto limit = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > 64) too_deep = true;
    return depth <= 64;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end(), limit);
  } catch (const nlohmann::json::parse_error& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
  if (too_deep) {
    if (error) *error = "nested more than 64 levels deep";
    return std::nullopt;
  }
  return value_of(j);
}

std::string to_json(const Value& value) {
  return json_of(value).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string to_string(const Value& value) {
  struct Visitor {
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(const List&) const { return ""; }
    std::string operator()(const Map&) const { return ""; }
    std::string operator()(const Unknown& u) const { return "${{ " + u.text + " }}"; }
  };
  if (value.is_list() || value.is_map()) return to_json(value);
  return std::visit(Visitor{}, value.v);
}

const char* type_name(const Value& value) {
  switch (value.v.index()) {
    case 0:
      return "string";
    case 1:
      return "bool";
    case 2:
      return "int";
    case 3:
      return "list";
    case 4:
      return "map";
    default:
      return "unknown";
  }
}

bool truthy(const Value& value) {
  if (value.is_bool()) return value.boolean();
  if (value.is_int()) return value.integer() != 0;
  if (value.is_string()) return !value.str().empty();
  if (value.is_list()) return !value.list().empty();
  if (value.is_map()) return !value.map().empty();
  return false;
}

bool contains_unknown(const Value& value) {
  if (value.is_unknown()) return true;
  if (value.is_list())
    for (const auto& item : value.list())
      if (contains_unknown(item)) return true;
  if (value.is_map())
    for (const auto& [k, item] : value.map())
      if (contains_unknown(item)) return true;
  return false;
}

Value from_node(const model::Node& node) {
  switch (node.kind) {
    case model::Node::Kind::List: {
      List out;
      for (const auto& item : node.items) out.push_back(from_node(item));
      return out;
    }
    case model::Node::Kind::Map: {
      Map out;
      for (const auto& [k, item] : node.entries) out.emplace_back(k, from_node(item));
      return out;
    }
    case model::Node::Kind::Scalar:
      break;
  }
  if (node.plain) {
    if (node.scalar == "true") return true;
    if (node.scalar == "false") return false;
    std::int64_t i = 0;
    const char* end = node.scalar.data() + node.scalar.size();
    auto [p, ec] = std::from_chars(node.scalar.data(), end, i);
    if (!node.scalar.empty() && ec == std::errc() && p == end) return i;
  }
  return node.scalar;
}

}  // namespace relengine::expr
