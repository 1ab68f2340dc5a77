// Replaces a file atomically: readers see the old content or the new, never a part, and a crash
// at any instant leaves one of the two on disk. Used by the built-in actions that edit files
// (yaml.set, file.replace) and by `relengine graph -o`.
//
// The content goes to a temporary file created (mkstemp) in the target's directory, is written
// and fsynced, and commit() renames it over the target and fsyncs the directory. The new file
// keeps the target's permission bits when the target exists (not its owner; a symbolic link is
// replaced by the file), and gets `mode` minus the umask otherwise, as open(2) would give it.
// Without commit() (an error, an early return, an exception), the destructor removes the
// temporary file: the target is untouched and nothing is left behind. Every failure is an error
// naming the target and the reason; the first one is kept in error().
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "io/fd.h"

namespace relengine::io {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path, mode_t mode = 0666);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends to the new content; false (and error()) when it cannot.
  bool write(std::string_view data);
  // Makes the new content the target's; false (and error()) when it cannot, or after an earlier
  // failure. A failure before the rename leaves the target as it was.
  bool commit();
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  // Records `BEFORE PATH AFTER: strerror(errno)` unless an error came first; false.
  bool fail(const char* before, const char* after = "");

  std::string path_;
  std::string temp_;  // "" once renamed (or never created)
  Fd fd_;
  std::string error_;
};

// The whole of `text` as the new content of `path`, through an AtomicFile; false with the reason.
bool write_file_atomically(const std::string& path, std::string_view text, std::string& error, mode_t mode = 0666);

}  // namespace relengine::io
