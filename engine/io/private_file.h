// Directories and files only their owner can read: the state directory and state.db
// (state/store), the logs directory and log files (exec/builder). Their modes are exact
// (0700, 0600) whatever the umask: a log holds whatever a tool printed, which nobody declared
// secret (a token in a URL, a password in an error message).
#pragma once

#include <string>

#include "io/fd.h"

namespace relengine::io {

// Creates `dir` and every missing directory above it, each with mode 0700 (set explicitly, so
// the umask neither widens nor narrows it). Directories that exist are left as they are. False
// with the path and the reason when one cannot be created or is not a directory.
bool make_private_dirs(const std::string& dir, std::string& error);

enum class Existing { Keep, Truncate };  // what open_private_file does to a file already there

// Opens `path` write-only (close-on-exec, never through a symbolic link), creating it if absent,
// and sets its mode to exactly 0600 (an existing file's too). Existing::Truncate empties a file
// that is already there; Keep leaves its content. An invalid Fd, and the path and the reason in
// `error`, when it cannot. A caller that writes through a stream may let the Fd close and open
// the file again: its mode stays 0600.
Fd open_private_file(const std::string& path, Existing existing, std::string& error);

}  // namespace relengine::io
