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
  bool live = false;  // stdout is a terminal: keep a live line of running steps
};

class Console {
 public:
  Console(std::ostream& out, ConsoleOptions options) : out_(out), opt_(options) {}

  void transition(const state::StepRecord& step, double seconds);
  void step_output(const std::string& step, const std::string& line);
  void note(const std::string& text);  // plain information
  void live(const std::vector<std::string>& running, double seconds);
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

}  // namespace relengine::exec
