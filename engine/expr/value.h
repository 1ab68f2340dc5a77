// Typed values of the expression language: string, bool, int, list, map, and "unknown"
// (a value only known at run time, e.g. a step output at plan time). Used by expr/, plan/, exec/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "model/playbook.h"

namespace relengine::expr {

struct Value;
using List = std::vector<Value>;
using Map = std::vector<std::pair<std::string, Value>>;

// Not known yet; `text` is the expression to show in its place ("steps.a.outputs.sha").
struct Unknown {
  std::string text;
};

struct Value {
  std::variant<std::string, bool, std::int64_t, List, Map, Unknown> v;

  Value() : v(std::string()) {}
  Value(std::string s) : v(std::move(s)) {}
  Value(const char* s) : v(std::string(s)) {}
  Value(bool b) : v(b) {}
  Value(std::int64_t i) : v(i) {}
  Value(int i) : v(static_cast<std::int64_t>(i)) {}
  Value(List l) : v(std::move(l)) {}
  Value(Map m) : v(std::move(m)) {}
  Value(Unknown u) : v(std::move(u)) {}

  bool is_string() const { return std::holds_alternative<std::string>(v); }
  bool is_bool() const { return std::holds_alternative<bool>(v); }
  bool is_int() const { return std::holds_alternative<std::int64_t>(v); }
  bool is_list() const { return std::holds_alternative<List>(v); }
  bool is_map() const { return std::holds_alternative<Map>(v); }
  bool is_unknown() const { return std::holds_alternative<Unknown>(v); }

  const std::string& str() const { return std::get<std::string>(v); }
  bool boolean() const { return std::get<bool>(v); }
  std::int64_t integer() const { return std::get<std::int64_t>(v); }
  const List& list() const { return std::get<List>(v); }
  const Map& map() const { return std::get<Map>(v); }

  const Value* field(const std::string& key) const;
};

// The string form used when a value is substituted into text: strings as they are,
// bools as true/false, ints in decimal, lists and maps as compact JSON, unknowns as ${{ text }}.
std::string to_string(const Value& value);
// Compact JSON; unknown values become the string "${{ text }}".
std::string to_json(const Value& value);
// The value of a JSON text (null becomes '', a float its text); nullopt and `error` when it is not
// JSON or nests more than 64 levels.
std::optional<Value> from_json(std::string_view text, std::string* error = nullptr);
const char* type_name(const Value& value);

// true/false for bool; int != 0; non-empty string, list or map. Unknown values have no truth.
bool truthy(const Value& value);
bool contains_unknown(const Value& value);

// A structural YAML value as a Value; plain scalars `true`/`false` and integers are typed.
Value from_node(const model::Node& node);

}  // namespace relengine::expr
