// yaml.set and yaml.get as pure functions over file text. yaml.set sets one scalar at a key path
// by splicing new bytes over the old scalar's bytes (found from yaml-cpp marks), then re-parses and
// checks that nothing else in the document changed. Used by the yaml.* actions and their tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace relengine::exec::actions {

struct KeySegment {
  enum class Kind { Key, Index, Select } kind = Kind::Key;
  std::string key;        // Key: the map key; Select: the item's key to match
  std::size_t index = 0;  // Index
  std::string value;      // Select: the value to match
};

// Parses `oci.guest-components.reference`, `images[0].newTag`,
// `images[name=cloud-api-adaptor].newTag`, `labels."app.kubernetes.io/name"`.
bool parse_key_path(const std::string& path, std::vector<KeySegment>& out, std::string& error);

struct YamlEdit {
  enum class Kind { Changed, Unchanged, Failed } kind = Kind::Failed;
  std::string text;      // the new file text (Changed)
  std::string previous;  // the value before
  std::string error;
};

// What yaml.set writes the value as (its `type:`): String (the default) reads back as exactly the
// text given, under YAML 1.2 and 1.1 rules; the others are written plain, and refused unless the
// value is one (YAML 1.2 core schema).
enum class WriteAs { String, Int, Float, Bool, Null, Timestamp };
bool parse_write_as(const std::string& name, WriteAs& out);

// Would a YAML 1.2 (core schema) or YAML 1.1 reader (PyYAML, Go's yaml.v2 as Kubernetes and Helm
// use it) take the plain scalar `v` for something else than the string `v`?
bool resolves_as_non_string(const std::string& v);

// `comment`: absent keeps the value's trailing comment; text makes it `# text`; "" removes it.
YamlEdit yaml_set_text(const std::string& source, const std::string& key_path, const std::string& value,
                       const std::optional<std::string>& comment = std::nullopt, WriteAs as = WriteAs::String);

// yaml.get: the value at a key path (same syntax as yaml.set). A scalar gives its text (null: ""), a
// map or list its compact JSON. Absent: the path is not there (no such key, item or index); Failed:
// unparseable file, bad path, a selector matching several items, or a path through a scalar.
struct YamlRead {
  enum class Kind { Found, Absent, Failed } kind = Kind::Failed;
  std::string value;
  bool scalar = true;
  std::string error;
};

YamlRead yaml_get_text(const std::string& source, const std::string& key_path);

}  // namespace relengine::exec::actions
