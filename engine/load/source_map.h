// Maps byte offsets of a file to 1-based line and column, and finds where a
// ${{ }} expression inside a YAML scalar stands in the file. Used by the loader.
#pragma once

#include <string>
#include <vector>

#include "model/playbook.h"

namespace relengine::load {

class SourceMap {
 public:
  explicit SourceMap(const std::string& source);

  model::Mark at(std::size_t offset) const;

  // Position in the file of `template_offset` inside the scalar `text` (whose node starts at
  // text.mark): found by matching the k-th "${{" of the value with the k-th one in the file
  // after the node's start, which holds for plain, quoted and block scalars alike.
  model::Mark locate(const model::Text& text, std::size_t template_offset) const;

 private:
  const std::string& source_;
  std::vector<std::size_t> line_starts_;
};

}  // namespace relengine::load
