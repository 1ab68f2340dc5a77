#include "io/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace relengine::io {

namespace fs = std::filesystem;

namespace {

bool failed(std::string& error, const std::string& what, int err) {
  error = what + ": " + std::strerror(err);
  return false;
}

}  // namespace

bool make_private_dirs(const std::string& dir, std::string& error) {
  fs::path path = fs::path(dir).lexically_normal();
  if (!path.has_filename() && path.has_parent_path()) path = path.parent_path();  // "a/b/" is "a/b"
  if (path.empty()) return true;
  // The deepest directory first: when only it is missing (a run's log directory), one mkdir.
  if (::mkdir(path.c_str(), 0700) != 0) {
    int err = errno;
    struct stat st {};
    if (err == EEXIST) {
      if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;  // left as it is
      return failed(error, "cannot create the directory " + path.string(), ENOTDIR);
    }
    if (err != ENOENT || !path.has_parent_path() || path.parent_path() == path)
      return failed(error, "cannot create the directory " + path.string(), err);
    if (!make_private_dirs(path.parent_path().string(), error)) return false;
    if (::mkdir(path.c_str(), 0700) != 0) {
      err = errno;
      if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;  // made meanwhile
      return failed(error, "cannot create the directory " + path.string(), err);
    }
  }
  // mkdir applied the umask: set 0700 itself, on the directory just made (not through a link
  // someone may have put in its place).
  Fd d(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d || ::fchmod(d.get(), 0700) != 0) {
    int err = errno;
    return failed(error, "cannot make the directory " + path.string() + " private (mode 0700)", err);
  }
  return true;
}

Fd open_private_file(const std::string& path, Existing existing, std::string& error) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (existing == Existing::Truncate ? O_TRUNC : 0);
  Fd fd;
  do fd.reset(::open(path.c_str(), flags, 0600));
  while (!fd && errno == EINTR);
  if (!fd) {
    int err = errno;
    failed(error, "cannot create " + path, err);
    return fd;
  }
  if (::fchmod(fd.get(), 0600) != 0) {
    int err = errno;
    failed(error, "cannot make " + path + " private (mode 0600)", err);
    return Fd();
  }
  return fd;
}

}  // namespace relengine::io
