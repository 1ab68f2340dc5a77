// The playbook as plain data: phases, steps, inputs, vars, defaults, with source positions.
// Filled by load/, read by graph/, plan/ and exec/; includes nothing of ours. Its only logic is
// the bounds of durations and the retry delay they imply (retry_delay).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace relengine::model {

// 1-based position in the playbook file; line 0 means "no position".
struct Mark {
  int line = 0;
  int col = 0;
  std::size_t offset = 0;  // byte offset of the node in the file
};

// A string value as written in the playbook, with its position.
struct Text {
  std::string value;
  Mark mark;
  bool given = false;  // false when the key was absent
};

// A YAML value kept structurally (for `with`, `vars`, literal `for_each`):
// scalars keep their text and whether they were plain (unquoted).
struct Node {
  enum class Kind { Scalar, List, Map };
  struct Entry;  // a map entry (key, value); a named struct so Node may hold Node
  Kind kind = Kind::Scalar;
  std::string scalar;
  bool plain = false;  // an unquoted scalar: `true`/`3` read as bool/int
  std::vector<Node> items;
  std::vector<Entry> entries;
  Mark mark;
};

struct Node::Entry {
  std::string first;  // the key
  Node second;        // the value
};

enum class InputType { String, Bool, Int };

struct Input {
  std::string name;
  Mark mark;
  std::string description;
  InputType type = InputType::String;
  bool required = false;
  std::optional<Node> default_value;
  std::optional<Text> pattern;
  bool secret = false;
  std::string env;  // environment variable the value is read from (secrets), or ""
};

struct Var {
  std::string name;
  Mark mark;
  Node value;
};

// Durations are whole milliseconds. The loader refuses any beyond these bounds (with the
// position of the value), so no computation with them can overflow.
inline constexpr std::chrono::milliseconds kMaxTimeout = std::chrono::hours(7 * 24);
inline constexpr std::chrono::milliseconds kMaxRetryDelay = std::chrono::hours(24);

struct Retry {
  int attempts = 1;                    // 1-100
  std::chrono::milliseconds delay{0};  // before the second attempt; 0 to kMaxRetryDelay
  double backoff = 1;                  // 1-10: each further delay is this many times the one before
};

// How long to wait after attempt `attempt` (1: the first) failed: delay x backoff^(attempt-1),
// saturating at kMaxRetryDelay (backoff^99 would be far beyond any clock's range).
inline std::chrono::milliseconds retry_delay(const Retry& r, int attempt) {
  auto base = std::clamp(r.delay, std::chrono::milliseconds(0), kMaxRetryDelay);
  double backoff = r.backoff >= 1 ? r.backoff : 1;  // NaN too
  if (attempt <= 1 || base.count() == 0 || backoff == 1) return base;
  double ms = static_cast<double>(base.count()) * std::pow(backoff, attempt - 1);  // inf at worst
  if (!(ms < static_cast<double>(kMaxRetryDelay.count()))) return kMaxRetryDelay;
  return std::chrono::milliseconds(std::llround(ms));
}

struct Precondition {
  Text run;
  Text message;
};

enum class ActionKind { None, Run, Uses, Manual };

// Where the steps of a library (`include:`) come from, and what they may read: their `inputs` are
// the include entry's `with` (rendered in the includer's scope), their `steps.LOCAL` the library's
// own steps, whose ids in the playbook are ID-LOCAL.
struct IncludeScope {
  std::string id;                                  // the include entry's id
  Mark mark;                                       // of the include entry
  std::string file;                                // the library, as positions name it
  std::string source;                              // its bytes
  std::vector<Input> inputs;                       // the library's declared inputs
  std::vector<std::pair<std::string, Node>> with;  // the include entry's `with`
  std::string with_file;                           // where `with` is written (the includer)
  std::string with_source;
  std::map<std::string, std::string> locals;   // local step id -> id in the playbook
  std::shared_ptr<const IncludeScope> parent;  // the including library, for nested includes
};

struct Step {
  Text id;
  Text name;
  Text description;
  std::string phase;  // id of the phase that holds it
  bool needs_given = false;
  std::vector<Text> needs;
  Text if_expr;
  std::vector<Precondition> preconditions;
  Text done_if;
  ActionKind action = ActionKind::None;
  Mark action_mark;  // position of the run / uses / manual key
  Text run;
  Text uses;
  std::optional<Node> with;
  Text manual;
  Text verify;
  std::vector<std::pair<std::string, Text>> env;
  Text workdir;
  Text shell;
  std::optional<std::chrono::milliseconds> timeout;  // 1 ms to kMaxTimeout
  std::optional<Retry> retry;
  Text lock;
  Text github_environment;  // the GitHub environment of this gate, when exported to GitHub Actions
  bool idempotent = false;
  bool irreversible = false;
  bool continue_on_error = false;
  std::optional<Node> for_each;            // a literal list, or a scalar holding an expression
  std::shared_ptr<IncludeScope> included;  // set for the steps of a library
};

struct Phase {
  Text id;
  Text name;
  Text description;
  bool needs_given = false;
  std::vector<Text> needs;
  Text if_expr;
  std::vector<Step> steps;
};

struct Defaults {
  Text shell;  // bash | sh
  Text workdir;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<Retry> retry;
  std::vector<std::pair<std::string, Text>> env;
};

struct Playbook {
  std::string path;    // as given on the command line
  std::string source;  // the file's bytes
  int version = 1;
  Text name;
  Text description;
  std::vector<Input> inputs;
  std::vector<Var> vars;
  Defaults defaults;
  std::vector<Phase> phases;
  // The include entries of the phases: `needs: [ID]` means all the steps an include brought.
  struct IncludeGroup {
    std::string id;
    std::vector<std::string> steps;
    Mark mark;
  };
  std::vector<IncludeGroup> includes;
  bool has_includes() const { return !includes.empty(); }

  const Input* find_input(const std::string& input) const {
    for (const auto& i : inputs)
      if (i.name == input) return &i;
    return nullptr;
  }
  const Var* find_var(const std::string& var) const {
    for (const auto& v : vars)
      if (v.name == var) return &v;
    return nullptr;
  }
};

}  // namespace relengine::model
