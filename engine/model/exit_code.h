// The process exit codes of every subcommand (SPEC §1), defined once. Returned by cli/ and exec/.
#pragma once

namespace relengine {

enum ExitCode : int {
  kOk = 0,
  kStepFailed = 1,     // a step failed; validate --strict found warnings
  kBadInput = 2,       // bad usage, invalid playbook or inputs, unsafe substitution
  kPaused = 3,         // a gate or an irreversible step awaits approval
  kStateProblem = 4,   // no such run, run held by another live process, state unreadable
  kInternal = 70,      // a bug in relengine, never the result of bad input
  kInterrupted = 130,  // SIGINT, SIGTERM or SIGHUP
};

}  // namespace relengine
