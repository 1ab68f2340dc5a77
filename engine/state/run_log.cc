#include "state/run_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/private_file.h"

namespace relengine::state {

namespace fs = std::filesystem;

namespace {

// A step id as a JSON string (an id that is not UTF-8 gets replacement characters).
std::string json_string(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr char kRecordStart = '\x1e';  // RS: a record's header follows (RFC 7464)

// One record's header: RS, {"attempt":N,"step":ID,"bytes":LEN}, LF. nullopt when it is not one.
struct RecordHeader {
  std::uint64_t bytes = 0;
  int attempt = 0;
  std::string step;
};
std::optional<RecordHeader> parse_header(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto b = j.find("bytes"), a = j.find("attempt"), s = j.find("step");
  if (b == j.end() || a == j.end() || s == j.end() || !b->is_number_unsigned() || !a->is_number_integer() ||
      !s->is_string())
    return std::nullopt;
  return RecordHeader{b->get<std::uint64_t>(), a->get<int>(), s->get<std::string>()};
}

// Walks the records of a run's log from byte `from`: `each(header, payload_offset)` for each whole
// record (the stream is left at its payload; `each` may read it). A damaged stretch (a header that
// does not parse) is skipped up to the next RS. Returns the offset after the last whole record.
template <typename Each>
std::uint64_t walk_run_log(std::istream& in, std::uint64_t from, Each each) {
  in.clear();
  in.seekg(static_cast<std::streamoff>(from));
  std::uint64_t good = from;
  in.seekg(0, std::ios::end);
  const std::uint64_t size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(static_cast<std::streamoff>(from));
  std::string line;
  for (int c; (c = in.get()) != EOF;) {
    if (c != kRecordStart) continue;                 // resynchronizing after damage
    if (!std::getline(in, line) || in.eof()) break;  // a header cut off
    auto h = parse_header(line);
    if (!h) continue;
    std::uint64_t payload = static_cast<std::uint64_t>(in.tellg());
    if (h->bytes > size - payload) break;  // a record cut off: the end of what is whole
    each(*h, payload);
    in.clear();
    in.seekg(static_cast<std::streamoff>(payload + h->bytes));
    good = payload + h->bytes;
  }
  return good;
}

}  // namespace

bool RunLog::open(const fs::path& file, std::string& error) {
  file_ = file;
  io::Fd fd = io::open_private_file(file.string(), io::Existing::Keep, error);
  if (!fd) return false;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(error, "cannot stat");
  if (st.st_size > 0) {
    std::ifstream in(file, std::ios::binary);
    std::uint64_t good = walk_run_log(in, 0, [](const RecordHeader&, std::uint64_t) {});
    if (good < static_cast<std::uint64_t>(st.st_size) && ::ftruncate(fd.get(), static_cast<off_t>(good)) != 0)
      return fail(error, "cannot repair");
    size_ = good;
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_APPEND) != 0) return fail(error, "cannot append to");
  fd_ = std::move(fd);
  return true;
}

void RunLog::add(const std::string& head, const std::string& text) {
  if (text.empty()) return;
  buffer_ += head;
  buffer_ += std::to_string(text.size());
  buffer_ += "}\n";
  buffer_ += text;
}

bool RunLog::write(std::string& error) {
  std::size_t done = 0;
  while (done < buffer_.size() && fd_) {
    ssize_t w = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      buffer_.clear();
      return fail(error, "cannot write");
    }
    done += static_cast<std::size_t>(w);
  }
  size_ += done;
  buffer_.clear();
  return true;
}

std::string RunLog::head(const std::string& step, int attempt) {
  return std::string(1, kRecordStart) + "{\"attempt\":" + std::to_string(attempt) + ",\"step\":" + json_string(step) +
         ",\"bytes\":";
}

bool RunLog::fail(std::string& error, const char* what) {
  error = std::string(what) + " " + file_.string() + ": " + std::strerror(errno);
  return false;
}

std::filesystem::path log_path(const std::filesystem::path& run_log_dir, const std::string& step, int attempt) {
  return run_log_dir / (step + ".attempt-" + std::to_string(attempt) + ".log");
}

std::filesystem::path run_log_path(const std::filesystem::path& logs_dir, const std::string& run_id) {
  return logs_dir / (run_id + ".log");
}

std::map<int, std::string> read_run_log(const std::filesystem::path& file, const std::string& step,
                                        std::uint64_t from) {
  std::map<int, std::string> out;
  std::ifstream in(file, std::ios::binary);
  if (!in) return out;
  // The step as its records name it (an id that is not UTF-8 is written with replacements).
  const std::string wanted = nlohmann::json::parse(json_string(step)).get<std::string>();
  walk_run_log(in, from, [&](const RecordHeader& h, std::uint64_t) {
    if (h.step != wanted) return;
    std::string& text = out[h.attempt];
    std::size_t at = text.size();
    text.resize(at + h.bytes);
    in.read(text.data() + at, static_cast<std::streamsize>(h.bytes));
  });
  return out;
}

}  // namespace relengine::state
