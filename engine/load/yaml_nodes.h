// Small readers from yaml-cpp nodes to model values with positions. Used by the loader,
// the schema mapping and the --inputs file reader.
#pragma once

#include <yaml-cpp/yaml.h>
#include <string>

#include "model/playbook.h"

namespace relengine::load {

inline model::Mark mark_of(const YAML::Node& node) {
  model::Mark m;
  if (!node.IsDefined()) return m;
  YAML::Mark ym = node.Mark();
  if (ym.is_null()) return m;
  m.line = ym.line + 1;
  m.col = ym.column + 1;
  m.offset = static_cast<std::size_t>(ym.pos);
  return m;
}

// A plain (unquoted) scalar is tagged "?" by yaml-cpp; quoted and block scalars "!".
inline bool is_plain(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

model::Node to_model_node(const YAML::Node& node);

}  // namespace relengine::load
