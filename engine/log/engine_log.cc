#include "log/engine_log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>

#include <cstdlib>
#include <mutex>

#include "io/private_file.h"

namespace relengine::englog {

namespace {

// Masks each record's text before the file sink formats and writes it.
class MaskingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  MaskingSink(std::shared_ptr<spdlog::sinks::sink> inner, std::function<std::string(std::string_view)> mask)
      : inner_(std::move(inner)), mask_(std::move(mask)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string masked = mask_(std::string_view(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(masked.data(), masked.size());
    inner_->log(copy);
  }
  void flush_() override { inner_->flush(); }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
  std::function<std::string(std::string_view)> mask_;
};

std::shared_ptr<spdlog::logger>& current() {
  static std::shared_ptr<spdlog::logger> l;
  return l;
}

}  // namespace

bool parse_level(const std::string& text, spdlog::level::level_enum& level) {
  static const std::pair<const char*, spdlog::level::level_enum> names[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (const auto& [name, l] : names)
    if (text == name) {
      level = l;
      return true;
    }
  return false;
}

bool settings(const std::string& cli_level, Settings& out, std::string& error) {
  std::string level = cli_level;
  const char* env = std::getenv("RELENGINE_LOG");
  if (level.empty() && env && *env) level = env;
  if (!level.empty() && !parse_level(level, out.level)) {
    error = (cli_level.empty() ? "RELENGINE_LOG" : "--log-level") + std::string(": '") + level +
            "' is not one of trace, debug, info, warn, error, off";
    return false;
  }
  if (const char* size = std::getenv("RELENGINE_LOG_SIZE"); size && *size) {
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(size, &end, 10);
    if (errno != 0 || *end != '\0' || n < 4096 || n > (1ull << 40)) {
      error = std::string("RELENGINE_LOG_SIZE: '") + size + "' is not a number of bytes from 4096 to 2^40";
      return false;
    }
    out.max_bytes = static_cast<std::size_t>(n);
  }
  return true;
}

bool open(const std::filesystem::path& file, const Settings& s, std::function<std::string(std::string_view)> mask,
          std::string& error) {
  close();
  if (s.level == spdlog::level::off) return true;
  if (!io::make_private_dirs(file.parent_path().string(), error)) return false;
  if (!io::open_private_file(file.string(), io::Existing::Keep, error)) return false;
  try {
    auto files = std::make_shared<spdlog::sinks::rotating_file_sink_st>(file.string(), s.max_bytes, s.files - 1);
    // UTC with milliseconds, as the store's times; the engine's pid (a run resumed by another
    // engine appends to the same file).
    files->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%P] %v",
                                                                     spdlog::pattern_time_type::utc));
    auto sink = std::make_shared<MaskingSink>(files, std::move(mask));
    auto l = std::make_shared<spdlog::logger>("relengine", sink);
    l->set_level(s.level);
    // Lines reach the file with every commit of the run (englog::flush), at once from warn up, and
    // at the end: a kill -9 loses at most what was logged since the last commit.
    l->flush_on(spdlog::level::warn);
    current() = l;
  } catch (const spdlog::spdlog_ex& e) {
    error = e.what();
    return false;
  }
  return true;
}

void close() {
  if (auto& l = current()) {
    l->flush();
    l.reset();
  }
}

void flush() {
  if (auto& l = current()) l->flush();
}

bool enabled(spdlog::level::level_enum level) { return current() && current()->should_log(level); }

spdlog::logger* logger() { return current().get(); }

}  // namespace relengine::englog
