// The states of a step and of a run (SPEC §4), as enums with their one spelling each: the store
// writes and reads these names, JSON and the console print them. Used by state/, exec/, cli/, render/.
#pragma once

#include <optional>
#include <string_view>

namespace relengine::state {

enum class StepStatus { Pending, Running, Succeeded, Skipped, Failed, Waiting, Interrupted, Cancelled };
enum class RunStatus { Running, Succeeded, Failed, Paused, Interrupted };

constexpr std::string_view name(StepStatus s) {
  switch (s) {
    case StepStatus::Pending:
      return "pending";
    case StepStatus::Running:
      return "running";
    case StepStatus::Succeeded:
      return "succeeded";
    case StepStatus::Skipped:
      return "skipped";
    case StepStatus::Failed:
      return "failed";
    case StepStatus::Waiting:
      return "waiting";
    case StepStatus::Interrupted:
      return "interrupted";
    case StepStatus::Cancelled:
      return "cancelled";
  }
  return "pending";
}

constexpr std::string_view name(RunStatus s) {
  switch (s) {
    case RunStatus::Running:
      return "running";
    case RunStatus::Succeeded:
      return "succeeded";
    case RunStatus::Failed:
      return "failed";
    case RunStatus::Paused:
      return "paused";
    case RunStatus::Interrupted:
      return "interrupted";
  }
  return "running";
}

constexpr std::optional<StepStatus> step_status(std::string_view text) {
  for (auto s : {StepStatus::Pending, StepStatus::Running, StepStatus::Succeeded, StepStatus::Skipped,
                 StepStatus::Failed, StepStatus::Waiting, StepStatus::Interrupted, StepStatus::Cancelled})
    if (name(s) == text) return s;
  return std::nullopt;
}

constexpr std::optional<RunStatus> run_status(std::string_view text) {
  for (auto s :
       {RunStatus::Running, RunStatus::Succeeded, RunStatus::Failed, RunStatus::Paused, RunStatus::Interrupted})
    if (name(s) == text) return s;
  return std::nullopt;
}

// Done for good in this invocation: nothing more will happen to it unless a resume resets it.
constexpr bool terminal(StepStatus s) {
  return s == StepStatus::Succeeded || s == StepStatus::Skipped || s == StepStatus::Failed ||
         s == StepStatus::Cancelled;
}

}  // namespace relengine::state
