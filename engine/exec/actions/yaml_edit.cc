#include "exec/actions/yaml_edit.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

#include "load/diagnostics.h"

namespace relengine::exec::actions {

bool parse_key_path(const std::string& path, std::vector<KeySegment>& out, std::string& error) {
  out.clear();
  std::size_t i = 0;
  auto fail = [&](const std::string& msg) {
    error = "key path '" + path + "': " + msg;
    return false;
  };
  if (path.empty()) return fail("empty");
  bool expect_key = true;
  while (i < path.size()) {
    if (expect_key) {
      KeySegment seg;
      if (path[i] == '"') {
        auto close = path.find('"', i + 1);
        if (close == std::string::npos) return fail("unterminated quote");
        seg.key = path.substr(i + 1, close - i - 1);
        i = close + 1;
      } else {
        std::size_t start = i;
        while (i < path.size() && path[i] != '.' && path[i] != '[') ++i;
        seg.key = path.substr(start, i - start);
        if (seg.key.empty()) return fail("empty key at position " + std::to_string(start + 1));
      }
      out.push_back(seg);
      expect_key = false;
      continue;
    }
    if (path[i] == '.') {
      ++i;
      expect_key = true;
      if (i == path.size()) return fail("ends with '.'");
      continue;
    }
    if (path[i] == '[') {
      auto close = path.find(']', i);
      if (close == std::string::npos) return fail("unterminated '['");
      std::string inside = path.substr(i + 1, close - i - 1);
      KeySegment seg;
      auto eq = inside.find('=');
      if (eq != std::string::npos) {
        seg.kind = KeySegment::Kind::Select;
        seg.key = inside.substr(0, eq);
        seg.value = inside.substr(eq + 1);
        if (seg.key.empty()) return fail("selector [" + inside + "] needs KEY=VALUE");
      } else {
        static const std::regex digits("^[0-9]+$");
        if (!std::regex_match(inside, digits)) return fail("[" + inside + "] is neither an index nor KEY=VALUE");
        seg.kind = KeySegment::Kind::Index;
        seg.index = std::stoul(inside);
      }
      out.push_back(seg);
      i = close + 1;
      continue;
    }
    return fail("unexpected '" + std::string(1, path[i]) + "' at position " + std::to_string(i + 1));
  }
  if (expect_key) return fail("ends with '.'");
  return true;
}

namespace {

std::string describe(const std::vector<KeySegment>& segs, std::size_t upto) {
  std::string out;
  for (std::size_t i = 0; i < upto && i < segs.size(); ++i) {
    const auto& s = segs[i];
    if (s.kind == KeySegment::Kind::Key)
      out += (out.empty() ? "" : ".") + s.key;
    else if (s.kind == KeySegment::Kind::Index)
      out += "[" + std::to_string(s.index) + "]";
    else
      out += "[" + s.key + "=" + s.value + "]";
  }
  return out;
}

// Finds the node; on failure, says where the path stopped matching, and `absent` tells whether
// the path is simply not there (no such key, item or index) rather than ambiguous or of another shape.
// `stopped`, when given, is set to where in the file the path stopped matching (the map or list
// that has no such key or item).
bool find(const YAML::Node& root, const std::vector<KeySegment>& segs, YAML::Node& found, std::string& error,
          bool* absent = nullptr, YAML::Mark* stopped = nullptr) {
  if (absent) *absent = false;
  YAML::Node cur = root;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (stopped) *stopped = cur.Mark();
    const auto& s = segs[i];
    std::string where = describe(segs, i);
    where = where.empty() ? "the document" : "'" + where + "'";
    YAML::Node next;
    if (s.kind == KeySegment::Kind::Key) {
      if (!cur.IsMap()) {
        error = "no key '" + s.key + "': " + where + " is not a map";
        return false;
      }
      bool hit = false;
      for (auto it = cur.begin(); it != cur.end(); ++it)
        if (it->first.IsScalar() && it->first.Scalar() == s.key) {
          next.reset(it->second);
          hit = true;
          break;
        }
      if (!hit) {
        error = "no key '" + s.key + "' in " + where;
        if (absent) *absent = true;
        return false;
      }
    } else if (s.kind == KeySegment::Kind::Index) {
      if (!cur.IsSequence()) {
        error = where + " is not a list";
        return false;
      }
      if (s.index >= cur.size()) {
        error = where + " has " + std::to_string(cur.size()) + " items, no [" + std::to_string(s.index) + "]";
        if (absent) *absent = true;
        return false;
      }
      YAML::Node item = cur[s.index];
      next.reset(item);
    } else {
      if (!cur.IsSequence()) {
        error = where + " is not a list";
        return false;
      }
      int matches = 0;
      for (const auto& item : cur) {
        if (!item.IsMap()) continue;
        YAML::Node v = item[s.key];
        if (v && v.IsScalar() && v.Scalar() == s.value) {
          if (++matches == 1) next.reset(item);
        }
      }
      if (matches == 0) {
        error = "no item with " + s.key + "=" + s.value + " in " + where;
        if (absent) *absent = true;
        return false;
      }
      if (matches > 1) {
        error = std::to_string(matches) + " items with " + s.key + "=" + s.value + " in " + where +
                "; a selector must pick one";
        return false;
      }
    }
    cur.reset(next);
  }
  found.reset(cur);
  return true;
}

// The end of a scalar's text that starts at `start` (after any anchor or tag).
std::size_t scalar_end(const std::string& src, std::size_t start, bool flow) {
  char q = src[start];
  if (q == '\'') {
    for (std::size_t i = start + 1; i < src.size(); ++i)
      if (src[i] == '\'') {
        if (i + 1 < src.size() && src[i + 1] == '\'')
          ++i;
        else
          return i + 1;
      }
    return std::string::npos;
  }
  if (q == '"') {
    for (std::size_t i = start + 1; i < src.size(); ++i) {
      if (src[i] == '\\')
        ++i;
      else if (src[i] == '"')
        return i + 1;
    }
    return std::string::npos;
  }
  std::size_t i = start;
  while (i < src.size()) {
    char c = src[i];
    if (c == '\n' || c == '\r') break;
    if (c == '#' && i > start && (src[i - 1] == ' ' || src[i - 1] == '\t')) break;
    if (flow && (c == ',' || c == ']' || c == '}')) break;
    if (c == ':' && (i + 1 == src.size() || src[i + 1] == ' ' || src[i + 1] == '\n' || src[i + 1] == '\r')) break;
    ++i;
  }
  while (i > start && (src[i - 1] == ' ' || src[i - 1] == '\t')) --i;
  return i;
}

bool inside_flow(const std::string& src, std::size_t pos) {
  // Brackets opened and not closed on the way to pos (ignoring quoted text and comments).
  int depth = 0;
  char quote = 0;
  bool comment = false;
  for (std::size_t i = 0; i < pos; ++i) {
    char c = src[i];
    if (comment) {
      if (c == '\n') comment = false;
      continue;
    }
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '#' && (i == 0 || src[i - 1] == ' ' || src[i - 1] == '\n' || src[i - 1] == '\t'))
      comment = true;
    else if ((c == '\'' || c == '"') && (i == 0 || std::string(" [{,:\n").find(src[i - 1]) != std::string::npos))
      quote = c;
    else if (c == '[' || c == '{')
      ++depth;
    else if (c == ']' || c == '}')
      depth = std::max(0, depth - 1);
  }
  return depth > 0;
}

bool looks_typed(const std::string& v) {
  static const std::regex typed(
      "^(true|false|True|False|TRUE|FALSE|yes|no|Yes|No|YES|NO|on|off|On|Off|ON|OFF|y|n|null|Null|NULL|~|"
      "[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|"
      "\\.(nan|NaN|NAN))$");
  return std::regex_match(v, typed);
}

// Text quoted from a user's input in a message: control characters escaped, so the message stays
// one positioned line.
std::string quoted_text(const std::string& s) { return load::escape_control(s); }

// Does `v` fit the core tag `tag` (its YAML 1.2 form)?
bool fits_tag(const std::string& tag, const std::string& v) {
  // Only the forms that mean the same number to YAML 1.2 and 1.1 readers (0777 is 777 to one and
  // 511 to the other; 0o17 is a string to 1.1): for anything else the tag goes.
  static const std::regex int_re("^[-+]?(0|[1-9][0-9]*|0x[0-9a-fA-F]+)$");
  static const std::regex float_re(
      "^([-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$");
  static const std::regex bool_re("^(true|True|TRUE|false|False|FALSE)$");
  static const std::regex null_re("^(~|null|Null|NULL|)$");
  static const std::regex binary_re("^[A-Za-z0-9+/=\\s]*$");
  static const std::regex timestamp_re(
      "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ]|[ \\t]+)?([0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]*)?([ "
      "\\t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)?$");
  if (tag == "tag:yaml.org,2002:int") return std::regex_match(v, int_re);
  if (tag == "tag:yaml.org,2002:float") return std::regex_match(v, float_re) || std::regex_match(v, int_re);
  if (tag == "tag:yaml.org,2002:bool") return std::regex_match(v, bool_re);
  if (tag == "tag:yaml.org,2002:null") return std::regex_match(v, null_re);
  if (tag == "tag:yaml.org,2002:binary") return std::regex_match(v, binary_re) && v.size() % 4 == 0;
  if (tag == "tag:yaml.org,2002:timestamp") return std::regex_match(v, timestamp_re);
  return true;  // !!str, and tags of the file's own: kept
}

bool core_tag(const std::string& tag) {
  static const std::set<std::string> core = {"tag:yaml.org,2002:int",    "tag:yaml.org,2002:float",
                                             "tag:yaml.org,2002:bool",   "tag:yaml.org,2002:null",
                                             "tag:yaml.org,2002:binary", "tag:yaml.org,2002:timestamp"};
  return core.count(tag) > 0;
}

bool plain_safe(const std::string& v, bool flow) {
  if (v.empty() || v.front() == ' ' || v.back() == ' ') return false;
  if (std::string("-?:,[]{}#&*!|>'\"%@`").find(v.front()) != std::string::npos) return false;
  if (v.find(": ") != std::string::npos || v.find(" #") != std::string::npos || v.back() == ':') return false;
  if (v.find('\n') != std::string::npos || v.find('\r') != std::string::npos || v.find('\t') != std::string::npos)
    return false;
  if (flow && v.find_first_of(",[]{}") != std::string::npos) return false;
  return true;
}

std::string double_quoted(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

// Are the two documents equal everywhere but at `skip` (a node of `b`)?
// `skipped` counts the places the target appears: more than one means it is aliased, and
// the edit would change the other places too.
bool same_except(const YAML::Node& a, const YAML::Node& b, const YAML::Node& skip_a, const YAML::Node& skip_b,
                 int& skipped) {
  if (a.is(skip_a) && b.is(skip_b)) return ++skipped == 1;
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar() && a.Tag() == b.Tag();
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i)
        if (!same_except(a[i], b[i], skip_a, skip_b, skipped)) return false;
      return true;
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return false;
      auto ia = a.begin();
      auto ib = b.begin();
      for (; ia != a.end(); ++ia, ++ib)
        if (!same_except(ia->first, ib->first, skip_a, skip_b, skipped) ||
            !same_except(ia->second, ib->second, skip_a, skip_b, skipped))
          return false;
      return true;
    }
    default:
      return true;
  }
}

// The key path parsed and the document loaded, or false with the reason.
bool load_for_path(const std::string& source, const std::string& key_path, std::vector<KeySegment>& segs,
                   YAML::Node& root, std::string& error) {
  if (!parse_key_path(key_path, segs, error)) return false;
  try {
    root = YAML::Load(source);
  } catch (const YAML::Exception& e) {
    error = "cannot parse the file: " + std::string(e.what());
    return false;
  }
  return true;
}

}  // namespace

bool parse_write_as(const std::string& name, WriteAs& out) {
  static const std::map<std::string, WriteAs> names = {{"string", WriteAs::String}, {"int", WriteAs::Int},
                                                       {"float", WriteAs::Float},   {"bool", WriteAs::Bool},
                                                       {"null", WriteAs::Null},     {"timestamp", WriteAs::Timestamp}};
  auto it = names.find(name);
  if (it == names.end()) return false;
  out = it->second;
  return true;
}

bool resolves_as_non_string(const std::string& v) {
  if (looks_typed(v)) return true;  // YAML 1.2's core schema
  // YAML 1.1 (PyYAML's resolver; Go's yaml.v2 takes the same booleans and base prefixes): booleans,
  // null, ints with underscores or in bases 2, 8 (a leading 0) and 16, sexagesimal ints and floats,
  // floats with underscores, timestamps, the merge key `<<`, the value key `=`, and the empty string.
  static const std::regex yaml11(
      "^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|"
      "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+|"
      "[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|"
      "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ]|[ \\t]+)?.*|<<|=|)$");
  return std::regex_match(v, yaml11);
}

YamlEdit yaml_set_text(const std::string& source_given, const std::string& key_path, const std::string& value,
                       const std::optional<std::string>& comment, WriteAs as) {
  YamlEdit out;
  // A byte order mark: yaml-cpp's positions count from after it; it is put back in front.
  static const std::string kBom = "\xEF\xBB\xBF";
  const bool bom = source_given.compare(0, kBom.size(), kBom) == 0;
  const std::string source = bom ? source_given.substr(kBom.size()) : source_given;
  std::vector<KeySegment> segs;
  YAML::Node root, target;
  // Messages quote the key path and the file: their control characters are escaped.
  auto at = [](const YAML::Mark& m) {
    return "line " + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": ";
  };
  if (!load_for_path(source, key_path, segs, root, out.error)) {
    out.error = quoted_text(out.error);
    return out;
  }
  if (YAML::Mark stopped; !find(root, segs, target, out.error, nullptr, &stopped)) {
    out.error = (stopped.is_null() ? "" : at(stopped)) + quoted_text(out.error);
    return out;
  }
  auto where = [&](const YAML::Node& n) { return at(n.Mark()); };
  if (target.IsMap() || target.IsSequence()) {
    out.error = where(target) + "'" + quoted_text(key_path) + "' is " + (target.IsMap() ? "a map" : "a list") +
                ", not a single value; set one of its keys (e.g. '" + quoted_text(key_path) +
                (target.IsMap() ? ".KEY" : "[0]") + "')";
    return out;
  }
  // What the value is written as, and whether it may be.
  static const std::map<WriteAs, const char*> core_of = {{WriteAs::Int, "tag:yaml.org,2002:int"},
                                                         {WriteAs::Float, "tag:yaml.org,2002:float"},
                                                         {WriteAs::Bool, "tag:yaml.org,2002:bool"},
                                                         {WriteAs::Null, "tag:yaml.org,2002:null"},
                                                         {WriteAs::Timestamp, "tag:yaml.org,2002:timestamp"}};
  if (as != WriteAs::String && !fits_tag(core_of.at(as), value)) {
    static const std::map<WriteAs, const char*> names = {{WriteAs::Int, "int"},
                                                         {WriteAs::Float, "float"},
                                                         {WriteAs::Bool, "bool"},
                                                         {WriteAs::Null, "null"},
                                                         {WriteAs::Timestamp, "timestamp"}};
    out.error =
        "type: " + std::string(names.at(as)) + ": '" + quoted_text(value) + "' is not one (YAML 1.2 core schema)";
    return out;
  }
  const bool empty = target.IsNull();
  out.previous = empty ? "" : target.Scalar();
  if (comment && comment->find_first_of("\r\n") != std::string::npos) {
    out.error = "a comment is one line";
    return out;
  }
  std::size_t start = static_cast<std::size_t>(target.Mark().pos);
  // Skip an anchor (&a) or a tag (!!str) in front of the value. A core tag the new value does not
  // fit (`!!int` over "v1.2") is dropped with the old value: a reader would fail on the file.
  std::size_t tag_start = std::string::npos;
  while (start < source.size() && (source[start] == '&' || source[start] == '!')) {
    const std::size_t property = start;
    if (source[start] == '!') tag_start = start;
    while (start < source.size() && source[start] != ' ' && source[start] != '\t') ++start;
    // An anchor of other characters than letters, digits, '-' and '_' (`&an:chor`) is read as
    // YAML 1.2 says by yaml-cpp, but ended early by YAML 1.1 readers (PyYAML, Go's yaml), to whom
    // the rest is part of the value: no edit reads back the same to both.
    if (source[property] == '&' &&
        !std::all_of(source.begin() + static_cast<std::ptrdiff_t>(property) + 1,
                     source.begin() + static_cast<std::ptrdiff_t>(start),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; })) {
      out.error = where(target) + "'" + quoted_text(key_path) + "' has the anchor '" +
                  quoted_text(source.substr(property, start - property)) +
                  "', which YAML 1.1 readers (PyYAML, Go's yaml) end before its first character that is not a "
                  "letter, digit, '-' or '_', and so read another value; rename the anchor first, or use file.replace";
      return out;
    }
    while (start < source.size() && (source[start] == ' ' || source[start] == '\t')) ++start;
  }
  const bool drop_tag = tag_start != std::string::npos && core_tag(target.Tag()) && !fits_tag(target.Tag(), value);
  bool flow = inside_flow(source, start);
  std::size_t end;
  std::string lead;  // before the new text: a space after `key:` when the value was empty
  if (empty && !(start < source.size() && source[start] == '~') &&
      !(source.compare(start, 4, "null") == 0 || source.compare(start, 4, "Null") == 0 ||
        source.compare(start, 4, "NULL") == 0)) {
    // `key:` with nothing after it (but spaces or a comment): the value goes right after the colon.
    // yaml-cpp marks an empty value at the start of the next line (or where the line ends): the
    // key's line is the one before.
    std::size_t seg_end = std::min(start, source.size());
    while (seg_end > 0 && (source[seg_end - 1] == ' ' || source[seg_end - 1] == '\t')) --seg_end;
    if (seg_end > 0 && source[seg_end - 1] == '\n') --seg_end;
    if (seg_end > 0 && source[seg_end - 1] == '\r') --seg_end;
    std::size_t line_start = seg_end == 0 ? std::string::npos : source.rfind('\n', seg_end - 1);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    std::size_t colon = std::string::npos;
    for (std::size_t i = line_start; i < seg_end; ++i) {
      if (source[i] == '#' && i > line_start && (source[i - 1] == ' ' || source[i - 1] == '\t')) break;
      if (source[i] == ':' &&
          (i + 1 == source.size() || std::string(" \t\r\n").find(source[i + 1]) != std::string::npos))
        colon = i;
    }
    // The colon found must be the key's own (after the key, or alone as the value indicator of an
    // explicit `? key`): an explicit key with no value has none, and the colon of the line before
    // belongs to another key.
    const std::string before_colon = colon == std::string::npos ? "" : source.substr(line_start, colon - line_start);
    if (colon != std::string::npos && segs.back().kind == KeySegment::Kind::Key &&
        before_colon.find_first_not_of(" \t") != std::string::npos &&
        before_colon.find(segs.back().key) == std::string::npos) {
      out.error = where(target) + "'" + quoted_text(key_path) +
                  "' has no value and no ':' of its own (an explicit '? key' entry); write '" +
                  quoted_text(segs.back().key) + ": VALUE' there first, or use file.replace";
      return out;
    }
    if (colon == std::string::npos || flow || tag_start != std::string::npos) {
      out.error = where(target) + "'" + quoted_text(key_path) +
                  "' is empty in a form relengine does not rewrite (in a flow collection, or tagged); write a value "
                  "there first, or use file.replace";
      return out;
    }
    start = end = colon + 1;
    lead = " ";
  } else {
    if (start >= source.size() || source[start] == '|' || source[start] == '>') {
      out.error = where(target) + "'" + quoted_text(key_path) +
                  "' is a block scalar (| or >); relengine does not rewrite those: use file.replace";
      return out;
    }
    end = scalar_end(source, start, flow);
    if (end == std::string::npos || end <= start) {
      out.error = where(target) + "cannot find the text of '" + quoted_text(key_path) + "' in the file";
      return out;
    }
    // A plain value that goes on over more lines than one: its text is not all on this line.
    char first = source[start];
    if (first != '\'' && first != '"' && !empty && source.substr(start, end - start) != target.Scalar()) {
      out.error = where(target) + "'" + quoted_text(key_path) +
                  "' is a plain value that goes on over several lines; relengine rewrites values that are on one "
                  "line: put it on one line (or quote it) first, or use file.replace";
      return out;
    }
  }
  if (drop_tag) {
    // The tag and what follows it up to the value go with the old value.
    std::size_t from = tag_start;
    while (from > 0 && (source[from - 1] == ' ' || source[from - 1] == '\t') && source[from - 1] != '\n') --from;
    lead = from < tag_start ? source.substr(from, tag_start - from) : " ";
    start = from;
  }
  // The rest of the value's line: nothing, or spaces and a comment (then `comment` may set it).
  std::size_t eol = source.find_first_of("\r\n", end);
  if (eol == std::string::npos) eol = source.size();
  std::string rest = source.substr(end, eol - end);
  std::size_t hash = rest.find('#');
  bool comment_only = rest.find_first_not_of(" \t") == std::string::npos ||
                      (hash != std::string::npos && rest.find_first_not_of(" \t") == hash && hash > 0);
  std::string old_comment = hash != std::string::npos && comment_only ? rest.substr(hash + 1) : "";
  while (!old_comment.empty() && old_comment.front() == ' ') old_comment.erase(0, 1);
  while (!old_comment.empty() && (old_comment.back() == ' ' || old_comment.back() == '\t')) old_comment.pop_back();
  std::string new_rest = rest;
  if (comment) {
    if (!comment_only) {
      out.error = "'" + key_path + "' shares its line with more than a comment; relengine does not set a comment there";
      return out;
    }
    std::string gap = hash != std::string::npos ? rest.substr(0, hash) : " ";
    new_rest = comment->empty() ? "" : gap + "# " + *comment;
  }
  if (empty) {
    // `key:   ` (spaces only after the colon): they go; a comment keeps its place after the value.
    if (rest.find_first_not_of(" \t") == std::string::npos) rest.clear();
    if (!comment) new_rest = rest;
  }
  // The same value: the same text (`key: null` set to null with type: null, too).
  const bool same_value =
      !drop_tag && (empty ? as == WriteAs::Null && end > start && source.substr(start, end - start) == value
                          : target.Scalar() == value);
  if (same_value && new_rest == rest) {
    out.kind = YamlEdit::Kind::Unchanged;
    return out;
  }
  char style = !drop_tag && !empty && (source[start] == '\'' || source[start] == '"') ? source[start] : 0;
  std::string text;
  if (style == '\'' && value.find('\n') == std::string::npos) {
    std::string escaped;
    for (char c : value) escaped += c == '\'' ? std::string("''") : std::string(1, c);
    text = "'" + escaped + "'";
  } else if (style == '"' || style == '\'') {
    text = double_quoted(value);
  } else if (as != WriteAs::String) {
    text = value;  // checked above: a plain int, float, bool, null or timestamp
  } else if (plain_safe(value, flow) && !resolves_as_non_string(value)) {
    text = value;
  } else {
    text = double_quoted(value);
  }
  // A value that keeps its tag (one it fits, or the file's own) reads back as the tag says: plain.
  if (style == 0 && tag_start != std::string::npos && !drop_tag && plain_safe(value, flow)) text = value;
  if (same_value) text = source.substr(start, end - start);  // only the comment changes
  std::string result = (bom ? kBom : "") + source.substr(0, start) + lead + text + new_rest + source.substr(eol);
  // Check the result: the key holds the new value and nothing else moved.
  YAML::Node after;
  try {
    after = YAML::Load(bom ? result.substr(kBom.size()) : result);
  } catch (const YAML::Exception& e) {
    out.error = where(target) + "refusing to write: the edited file would not parse (" + std::string(e.what()) + ")";
    return out;
  }
  YAML::Node changed;
  std::string ignored;
  int skipped = 0;
  bool reads_back = find(after, segs, changed, ignored) &&
                    (as == WriteAs::Null ? changed.IsNull() || (changed.IsScalar() && changed.Scalar() == value)
                                         : changed.IsScalar() && changed.Scalar() == value);
  if (!reads_back || !same_except(root, after, target, changed, skipped)) {
    out.error = skipped > 1
                    ? where(target) + "refusing to write: the value of '" + quoted_text(key_path) +
                          "' has an anchor and is used elsewhere through an alias, which the edit would "
                          "change too; give the places their own values first, or use file.replace"
                    : where(target) + "refusing to write: the edit would change more than '" + quoted_text(key_path) +
                          "' (the edited file reads otherwise elsewhere); use file.replace";
    return out;
  }
  out.kind = YamlEdit::Kind::Changed;
  out.text = std::move(result);
  return out;
}

namespace {

nlohmann::ordered_json json_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      auto out = nlohmann::ordered_json::array();
      for (const auto& item : n) out.push_back(json_of(item));
      return out;
    }
    case YAML::NodeType::Map: {
      auto out = nlohmann::ordered_json::object();
      for (auto it = n.begin(); it != n.end(); ++it) out[it->first.Scalar()] = json_of(it->second);
      return out;
    }
    case YAML::NodeType::Scalar:
      return n.Scalar();
    default:
      return "";
  }
}

}  // namespace

YamlRead yaml_get_text(const std::string& source, const std::string& key_path) {
  YamlRead out;
  std::vector<KeySegment> segs;
  YAML::Node root;
  if (!load_for_path(source, key_path, segs, root, out.error)) return out;
  YAML::Node found;
  bool absent = false;
  if (!find(root, segs, found, out.error, &absent)) {
    if (absent) out.kind = YamlRead::Kind::Absent;
    return out;
  }
  out.kind = YamlRead::Kind::Found;
  out.scalar = found.IsScalar() || found.IsNull();
  if (found.IsScalar())
    out.value = found.Scalar();
  else if (!found.IsNull())
    out.value = json_of(found).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return out;
}

}  // namespace relengine::exec::actions
