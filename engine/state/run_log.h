#pragma once
// The run's log (docs/execution.md, "Logs"): STATE_DIR/logs/RUN.log, one append-only file per run
// for every attempt of every step, in records that name their step and attempt: the builder
// appends to it, `relengine logs` reads it.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "io/fd.h"

namespace relengine::state {

// The run's log: LOGS_DIR/RUN.log (STATE_DIR/logs/RUN.log), one append-only file for every attempt
// of every step of the run, in records that name their step and attempt (docs/execution.md, "Logs").
std::filesystem::path run_log_path(const std::filesystem::path& logs_dir, const std::string& run_id);
// What `step`'s attempts wrote to the run's log `file` (from byte `from` on), by attempt number;
// attempts that have no record there are absent.
std::map<int, std::string> read_run_log(const std::filesystem::path& file, const std::string& step,
                                        std::uint64_t from = 0);
// Where runs recorded before the run's log kept an attempt's log: RUN_LOG_DIR/STEP.attempt-N.log
// (one file per attempt; older still, STEP/attempt-N.log). Read by `relengine logs`.
std::filesystem::path log_path(const std::filesystem::path& run_log_dir, const std::string& step, int attempt);

// The writer of a run's log. Starting a step creates no file (a file creation on this disk is
// the costly part of starting a short step, docs/PERFORMANCE.md). Records of the attempts running
// at once interleave; each names its step and attempt. What is added is written with one write()
// per turn of the event loop (and before a command starts), not fsynced: a log is for people, the
// state database is the record.
class RunLog {
 public:
  // Opens (creating it 0600 if needed) `file` for appending. An existing log whose end was cut
  // off (an engine killed during a write) is cut back to its last whole record first, so that
  // what this engine appends can be read.
  bool open(const std::filesystem::path& file, std::string& error);
  // Queues one record: `text`, a piece of the output of the attempt whose header prefix is `head`.
  void add(const std::string& head, const std::string& text);
  // Writes what was queued; false (and why) when the file cannot take it.
  bool write(std::string& error);
  std::uint64_t size() const { return size_ + buffer_.size(); }  // where the next record starts
  const std::filesystem::path& file() const { return file_; }
  // The header prefix of an attempt's records (the byte count and the end follow).
  static std::string head(const std::string& step, int attempt);

 private:
  bool fail(std::string& error, const char* what);

  std::filesystem::path file_;
  io::Fd fd_;
  std::string buffer_;
  std::uint64_t size_ = 0;
};

}  // namespace relengine::state
