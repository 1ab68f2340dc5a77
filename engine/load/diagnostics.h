// Problems the user can cause (bad playbook, bad inputs), as values with a position.
// Collected by the loader and input resolver, printed once by the CLI as PATH:LINE:COL: error: MESSAGE.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "model/playbook.h"

namespace relengine::load {

enum class Severity { Error, Warning };

struct Diagnostic {
  std::string file;  // "" for problems with no file (e.g. a --set value)
  model::Mark mark;
  Severity severity = Severity::Error;
  std::string message;
};

class Diagnostics {
 public:
  void error(const std::string& file, model::Mark mark, std::string message);
  void warning(const std::string& file, model::Mark mark, std::string message);
  void add(Diagnostic d);

  bool has_errors() const;
  std::size_t error_count() const;
  std::size_t warning_count() const;
  const std::vector<Diagnostic>& all() const { return items_; }

  // Sorted by file position, duplicates (same place, same text) removed.
  std::vector<Diagnostic> sorted() const;

 private:
  std::vector<Diagnostic> items_;
};

// Text quoted from a user's input: control characters escaped (\n, \t, \r, \xNN), so that a
// message quoting it stays one line.
std::string escape_control(const std::string& s);

// PATH:LINE:COL: error: MESSAGE (the position part is left out when unknown), always one line:
// control characters in the message (quoted from the input) are escaped.
std::string format(const Diagnostic& d);
void print(std::ostream& out, const Diagnostics& diags);

// The candidate nearest to `word` (for "did you mean"), or "" when none is close.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace relengine::load
