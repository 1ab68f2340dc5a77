// What a run prints: one line per step transition, the live line of running steps on a
// terminal, the summary table. Used by exec/builder (which prints the failure excerpt and the next
// command itself).
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "state/store.h"

namespace relengine::exec {

struct ConsoleOptions {
  bool color = false;
  bool quiet = false;
  bool verbose = false;
  bool live = false;  // stdout is a terminal that can redraw a line: keep a progress line
};

// What the progress line says.
struct Progress {
  std::size_t done = 0;   // steps that ended (succeeded, skipped, failed, cancelled)
  std::size_t total = 0;  // steps of the run
  std::vector<std::string> running;
  std::string phase;    // of the first running step ("" when none runs)
  double elapsed = 0;   // seconds since this engine started driving the run
  std::string waiting;  // what it waits for when nothing runs ("" when nothing)
};

class Console {
 public:
  Console(std::ostream& out, ConsoleOptions options) : out_(out), opt_(options) {}

  void transition(const state::StepRecord& step, double seconds);
  void step_output(const std::string& step, const std::string& line);
  void note(const std::string& text);  // plain information
  // The one live line at the bottom: drawn in place (carriage return, erase line), never wider
  // than the terminal, gone with clear_live(); every other line is printed above it.
  void live(const Progress& p);
  void clear_live();
  void summary(const std::vector<state::StepRecord>& steps);
  std::string paint(const std::string& text, state::StepStatus status) const;
  const ConsoleOptions& options() const { return opt_; }

 private:
  std::ostream& out_;
  ConsoleOptions opt_;
  bool live_shown_ = false;
};

std::string format_seconds(double seconds);
// The progress line's text, at most `width` columns (ASCII).
std::string progress_line(const Progress& p, std::size_t width);

}  // namespace relengine::exec
