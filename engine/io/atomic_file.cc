#include "io/atomic_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace relengine::io {

namespace fs = std::filesystem;

namespace {

// The process's umask, read without changing it (umask(2) can only set it, which would be a
// window for another thread's files); the set-and-restore fallback is for kernels before 4.7.
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Umask:", 0) == 0) return static_cast<mode_t>(std::strtoul(line.c_str() + 6, nullptr, 8));
  mode_t mask = ::umask(022);
  ::umask(mask);
  return mask;
}

fs::path directory_of(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

}  // namespace

AtomicFile::AtomicFile(std::string path, mode_t mode) : path_(std::move(path)) {
  fs::path target(path_);
  std::string tmpl = (directory_of(path_) / ("." + target.filename().string() + ".relengine-XXXXXX")).string();
  fd_.reset(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd_) {
    fail("cannot create a temporary file next to ");
    return;
  }
  temp_ = tmpl;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;
  } else if (errno == ENOENT) {
    mode &= ~current_umask();
  } else {
    fail("cannot look at ");
    return;
  }
  if (::fchmod(fd_.get(), mode) != 0) fail("cannot set the permissions of the new ");
}

AtomicFile::~AtomicFile() {
  fd_.reset();
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

bool AtomicFile::fail(const char* before, const char* after) {
  int err = errno;  // before anything else can change it
  if (error_.empty()) error_ = before + path_ + after + ": " + std::strerror(err);
  return false;
}

bool AtomicFile::write(std::string_view data) {
  if (!error_.empty() || !fd_) return false;
  while (!data.empty()) {
    ssize_t n = ::write(fd_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write ");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool AtomicFile::commit() {
  if (!error_.empty() || !fd_) return false;
  if (::fsync(fd_.get()) != 0) return fail("cannot write ", " (fsync)");
  if (::close(fd_.release()) != 0) return fail("cannot write ", " (close)");
  if (::rename(temp_.c_str(), path_.c_str()) != 0) return fail("cannot replace ");
  temp_.clear();
  // The rename itself is durable only once the directory is.
  fs::path dir = directory_of(path_);
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return fail("replaced ", " but cannot open its directory to sync it");
  if (::fsync(d.get()) != 0) return fail("replaced ", " but cannot sync its directory");
  return true;
}

bool write_file_atomically(const std::string& path, std::string_view text, std::string& error, mode_t mode) {
  AtomicFile file(path, mode);
  if (file.write(text) && file.commit()) return true;
  error = file.error();
  return false;
}

}  // namespace relengine::io
