// relengine's own log (docs/engine-log.md): what the engine decided and did, for diagnosing
// relengine itself, not for users (they read the console and the step logs). One rotating,
// size-capped file per run, written with spdlog, every line timestamped and masked of secrets.
// Nothing is written until open(); then each call below costs one formatted line at most.
#pragma once

#include <spdlog/spdlog.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

namespace relengine::englog {

struct Settings {
  spdlog::level::level_enum level = spdlog::level::info;
  std::size_t max_bytes = 4 * 1024 * 1024;  // per file
  std::size_t files = 3;                    // the file and the rotated ones kept beside it
};

// "trace", "debug", "info", "warn", "error", "off"; false for anything else.
bool parse_level(const std::string& text, spdlog::level::level_enum& level);
// --log-level when given, else $RELENGINE_LOG, else info; $RELENGINE_LOG_SIZE the bytes per file
// (at least 4096). False with a message for a value that is not one.
bool settings(const std::string& cli_level, Settings& out, std::string& error);

// Starts writing `file` (its directory created private, 0700; the file 0600), each line masked
// by `mask` before it is written. False with the reason when the file cannot be opened: the run
// goes on without it (the reason is printed once).
bool open(const std::filesystem::path& file, const Settings& s, std::function<std::string(std::string_view)> mask,
          std::string& error);
void close();  // flushes and stops
void flush();  // what was logged so far, to the file (the engine calls it with every commit)
bool enabled(spdlog::level::level_enum level);

spdlog::logger* logger();

template <typename... Args>
void log(spdlog::level::level_enum level, fmt::format_string<Args...> format, Args&&... args) {
  if (auto* l = logger(); l && l->should_log(level)) l->log(level, format, std::forward<Args>(args)...);
}
template <typename... Args>
void trace(fmt::format_string<Args...> f, Args&&... a) {
  log(spdlog::level::trace, f, std::forward<Args>(a)...);
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) {
  log(spdlog::level::debug, f, std::forward<Args>(a)...);
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... a) {
  log(spdlog::level::info, f, std::forward<Args>(a)...);
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) {
  log(spdlog::level::warn, f, std::forward<Args>(a)...);
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... a) {
  log(spdlog::level::err, f, std::forward<Args>(a)...);
}

}  // namespace relengine::englog
