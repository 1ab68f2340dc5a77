#include "exec/console.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

namespace relengine::exec {

using state::StepStatus;

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  return buf;
}

std::string Console::paint(const std::string& text, StepStatus status) const {
  if (!opt_.color) return text;
  const char* color = "";
  switch (status) {
    case StepStatus::Succeeded:
      color = "\033[32m";
      break;
    case StepStatus::Skipped:
      color = "\033[36m";
      break;
    case StepStatus::Failed:
      color = "\033[31m";
      break;
    case StepStatus::Waiting:
      color = "\033[33m";
      break;
    case StepStatus::Interrupted:
      color = "\033[35m";
      break;
    case StepStatus::Cancelled:
      color = "\033[90m";
      break;
    case StepStatus::Running:
      color = "\033[34m";
      break;
    case StepStatus::Pending:
      color = "\033[37m";
      break;
  }
  return std::string(color) + text + "\033[0m";
}

void Console::clear_live() {
  if (live_shown_) out_ << "\r\033[K";
  live_shown_ = false;
}

void Console::transition(const state::StepRecord& s, double seconds) {
  if (opt_.quiet && s.status != StepStatus::Failed && s.status != StepStatus::Waiting) return;
  clear_live();
  std::string status(state::name(s.status));
  if (!s.reason.empty()) status += " (" + s.reason + ")";
  if (s.status == StepStatus::Running && s.attempts > 1) status += " (attempt " + std::to_string(s.attempts) + ")";
  out_ << "[" << s.phase << "] " << s.id << ": " << paint(status, s.status);
  if (s.status != StepStatus::Running && s.status != StepStatus::Pending && seconds > 0)
    out_ << " " << format_seconds(seconds);
  if (!s.message.empty() && s.status != StepStatus::Running) out_ << " - " << s.message;
  out_ << "\n";
  out_.flush();
}

void Console::step_output(const std::string& step, const std::string& line) {
  clear_live();
  out_ << step << " | " << line << "\n";
}

void Console::note(const std::string& text) {
  if (opt_.quiet) return;
  clear_live();
  out_ << text << "\n";
  out_.flush();
}

std::string progress_line(const Progress& p, std::size_t width) {
  std::string line = "[" + std::to_string(p.done) + "/" + std::to_string(p.total) + " done] ";
  if (!p.phase.empty()) line += p.phase + ": ";
  if (!p.running.empty()) {
    line += "running ";
    for (std::size_t i = 0; i < p.running.size() && i < 4; ++i) line += (i ? ", " : "") + p.running[i];
    if (p.running.size() > 4) line += " and " + std::to_string(p.running.size() - 4) + " more";
  } else if (!p.waiting.empty()) {
    line += p.waiting;
  }
  std::string clock = "  " + format_seconds(p.elapsed);
  if (width < clock.size() + 8) width = clock.size() + 8;
  if (line.size() + clock.size() > width) line = line.substr(0, width - clock.size() - 3) + "...";
  return line + clock;
}

void Console::live(const Progress& p) {
  if (!opt_.live || opt_.quiet) return;
  std::size_t width = 80;
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) width = ws.ws_col;
  // One column short of the width: a line that fills it would wrap on some terminals.
  out_ << "\r\033[K" << paint(progress_line(p, width - 1), StepStatus::Running);
  out_.flush();
  live_shown_ = true;
}

void Console::summary(const std::vector<state::StepRecord>& steps) {
  if (opt_.quiet) return;
  clear_live();
  std::size_t width = 4, status_width = 12;
  for (const auto& s : steps) {
    width = std::max(width, s.id.size());
    status_width = std::max(status_width, state::name(s.status).size() + (s.reason.empty() ? 0 : s.reason.size() + 1));
  }
  std::map<std::string, int> counts;
  out_ << "\n"
       << std::string("STEP") << std::string(width - 4 + 2, ' ') << "STATUS" << std::string(status_width - 6 + 2, ' ')
       << "ATTEMPTS\n";
  for (const auto& s : steps) {
    ++counts[std::string(state::name(s.status))];
    std::string status = std::string(state::name(s.status)) + (s.reason.empty() ? "" : ":" + s.reason);
    std::string padded = status + std::string(status_width - status.size() + 2, ' ');
    out_ << s.id << std::string(width - s.id.size() + 2, ' ') << paint(padded, s.status) << s.attempts << "\n";
  }
  std::string line;
  for (const auto& [status, n] : counts) line += (line.empty() ? "" : ", ") + std::to_string(n) + " " + status;
  out_ << line << "\n";
  out_.flush();
}

}  // namespace relengine::exec
