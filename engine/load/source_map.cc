#include "load/source_map.h"

#include <algorithm>

namespace relengine::load {

SourceMap::SourceMap(const std::string& source) : source_(source) {
  line_starts_.push_back(0);
  for (std::size_t i = 0; i < source.size(); ++i)
    if (source[i] == '\n') line_starts_.push_back(i + 1);
}

model::Mark SourceMap::at(std::size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  std::size_t line = static_cast<std::size_t>(it - line_starts_.begin());
  model::Mark m;
  m.line = static_cast<int>(line);
  m.col = static_cast<int>(offset - line_starts_[line - 1] + 1);
  m.offset = offset;
  return m;
}

model::Mark SourceMap::locate(const model::Text& text, std::size_t template_offset) const {
  if (text.mark.line == 0) return text.mark;
  const std::string& value = text.value;
  // Which "${{" does the offset belong to, and how far past it is it?
  std::size_t k = 0;
  std::size_t open = std::string::npos;
  for (std::size_t p = value.find("${{"); p != std::string::npos && p <= template_offset;
       p = value.find("${{", p + 1)) {
    open = p;
    ++k;
  }
  if (open == std::string::npos) {
    // No expression before the offset: the scalar is a bare expression (an `if:`).
    std::size_t start = text.mark.offset;
    if (start < source_.size() && (source_[start] == '\'' || source_[start] == '"')) ++start;
    return at(std::min(start + template_offset, source_.size()));
  }
  std::size_t delta = template_offset - open;
  std::size_t pos = text.mark.offset;
  for (std::size_t i = 0; i < k; ++i) {
    pos = source_.find("${{", i == 0 ? pos : pos + 1);
    if (pos == std::string::npos) return text.mark;
  }
  return at(std::min(pos + delta, source_.size()));
}

}  // namespace relengine::load
