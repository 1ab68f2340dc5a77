#include "exec/outputs.h"

#include <regex>

namespace relengine::exec {

namespace {

bool valid_name(const std::string& name) {
  static const std::regex key("^[A-Za-z_][A-Za-z0-9_.-]*$");
  return std::regex_match(name, key);
}

// `text` cut into lines at "\n" (a "\r" before it stays: a multi-line value keeps every byte). A
// last line without "\n" is a line too.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// A line quoted in a note: control characters escaped, at most 80 bytes, so the note stays one line.
std::string shown(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, 80)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[(static_cast<unsigned char>(c) >> 4) & 15];
      out += hex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return line.size() > 80 ? out + "..." : out;
}

}  // namespace

ParsedOutputs parse_outputs(std::string_view text) {
  ParsedOutputs out;
  auto lines = split_lines(text);
  // NAME=VALUE and NAME<<DELIMITER lines, and delimiter lines, may end in CRLF.
  auto bare = [](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = bare(lines[i]);
    if (line.empty()) continue;
    auto eq = line.find('=');
    auto heredoc = line.find("<<");
    std::string name, value;
    if (eq != std::string_view::npos && (heredoc == std::string_view::npos || eq < heredoc)) {
      name = std::string(line.substr(0, eq));
      value = std::string(line.substr(eq + 1));
    } else if (heredoc != std::string_view::npos) {
      name = std::string(line.substr(0, heredoc));
      std::string delimiter(line.substr(heredoc + 2));
      if (delimiter.empty()) {
        out.notes.push_back("ignored output line (NAME<< without a delimiter): " + shown(line));
        continue;
      }
      std::size_t end = i + 1;
      while (end < lines.size() && bare(lines[end]) != delimiter) ++end;
      if (end == lines.size()) {
        out.error = "output " + shown(name) + ": no line '" + shown(delimiter) +
                    "' ends its value (NAME<<DELIMITER, the value's lines, then DELIMITER alone on a line)";
        return out;
      }
      for (std::size_t k = i + 1; k < end; ++k) value += (k > i + 1 ? "\n" : "") + std::string(lines[k]);
      i = end;
    } else {
      out.notes.push_back("ignored output line (not NAME=VALUE or NAME<<DELIMITER): " + shown(line));
      continue;
    }
    if (!valid_name(name)) {
      out.notes.push_back("ignored output '" + shown(name) + "': a name is [A-Za-z_][A-Za-z0-9_.-]*");
      continue;
    }
    if (name.rfind("relengine.", 0) == 0) {
      out.notes.push_back("ignored output '" + name + "': the relengine.* names are the engine's own");
      continue;
    }
    out.values[name] = std::move(value);
  }
  return out;
}

std::string output_entry(const std::string& name, const std::string& value, std::mt19937_64& random) {
  std::string delimiter;
  do {
    char buf[40];
    std::snprintf(buf, sizeof buf, "relengine_delimiter_%016llx", static_cast<unsigned long long>(random()));
    delimiter = buf;
  } while (value.find(delimiter) != std::string::npos);
  return name + "<<" + delimiter + "\n" + value + "\n" + delimiter + "\n";
}

}  // namespace relengine::exec
