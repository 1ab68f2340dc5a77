#include "state/store.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "state/pg_store.h"
#include "state/sqlite_store.h"

namespace relengine::state {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

std::string user_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const char* u = std::getenv("LOGNAME"); u && *u) return u;
  return "uid " + std::to_string(getuid());
}

std::string default_location() {
  for (const char* name : {"RELENGINE_STATE", "RELENGINE_STATE_DIR"})
    if (const char* v = std::getenv(name); v && *v) return v;
  return ".relengine";
}

std::string state_dir_hint(const std::string& location) {
  if (location == default_location()) return "";
  return is_postgres_url(location) ? " --state '" + masked_location(location) + "'" : " --state-dir " + location;
}
std::string host_name() {
  // $RELENGINE_HOST names this machine where the host name does not tell machines apart
  // (containers with one host name; two drivers on one machine standing in for two hosts).
  if (const char* h = std::getenv("RELENGINE_HOST"); h && *h) return h;
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::int64_t process_start_time(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return 0;
  // Field 22 (starttime) comes after the command name, which is in parentheses and may hold spaces.
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::stoll(field);
  return 0;
}

bool process_alive(int pid, std::int64_t start_time) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (std::getline(in, text)) {
    auto close = text.rfind(')');
    if (close != std::string::npos && close + 2 < text.size() && (text[close + 2] == 'Z' || text[close + 2] == 'X'))
      return false;  // a zombie: dead, not yet reaped
  }
  return start_time == 0 || process_start_time(pid) == start_time;
}

bool lease_held_elsewhere(const RunRecord& run) {
  if (run.lease_pid == 0) return false;
  std::string me = host_name();
  if (run.lease_pid == getpid() && run.lease_host == me) return false;
  // Same machine: the owner is alive if the pid exists and is the same process (start time);
  // another machine: a recent heartbeat.
  if (run.lease_host == me) return process_alive(run.lease_pid, run.lease_start);
  return unix_now() - run.lease_heartbeat < lease_ttl_seconds();
}

std::string lease_busy_message(const std::string& run_id, const RunRecord& lease) {
  return "run " + run_id + " is being driven by pid " + std::to_string(lease.lease_pid) + " on host " +
         lease.lease_host + "; wait for it to finish, or stop that process";
}

std::string lease_lost_message(const std::string& run_id, const RunRecord& holder) {
  return "this driver (pid " + std::to_string(getpid()) + " on host " + host_name() + ") lost the lease of run " +
         run_id +
         (holder.lease_pid == 0 ? std::string(" (released)")
                                : " to pid " + std::to_string(holder.lease_pid) + " on host " + holder.lease_host) +
         ": it stops and records nothing more (see relengine status " + run_id + ")";
}

std::string takeover_note(const RunRecord& lease) {
  if (lease.lease_pid == 0 || (lease.lease_pid == getpid() && lease.lease_host == host_name())) return "";
  return "from pid " + std::to_string(lease.lease_pid) + " on host " + lease.lease_host + " (last heartbeat " +
         std::to_string(unix_now() - lease.lease_heartbeat) + " s ago)";
}

int lease_ttl_seconds() {
  // $RELENGINE_LEASE_TTL: 10 s (two heartbeats) to a day; anything else means the default.
  if (const char* v = std::getenv("RELENGINE_LEASE_TTL"); v && *v) {
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (end && *end == '\0' && n >= 10 && n <= 86400) return static_cast<int>(n);
  }
  return 60;
}

std::string to_json_map(const std::map<std::string, std::string>& m) { return nlohmann::json(m).dump(); }

std::map<std::string, std::string> from_json_map(const std::string& text) {
  std::map<std::string, std::string> out;
  if (text.empty()) return out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  return out;
}

StepStatus stored_step_status(const std::string& text) {
  if (auto s = step_status(text)) return *s;
  throw StateError("state database: unknown step status '" + text + "'");
}

RunStatus stored_run_status(const std::string& text) {
  if (auto s = run_status(text)) return *s;
  throw StateError("state database: unknown run status '" + text + "'");
}

RunStatus shown_status(const RunRecord& r) {
  if (r.status != RunStatus::Running) return r.status;
  if (r.lease_pid == 0 || !lease_held_elsewhere(r)) return RunStatus::Interrupted;
  return r.status;
}

std::unique_ptr<RunStore> open_store(const std::string& location, OpenMode mode) {
  if (is_postgres_url(location)) return open_postgres_store(location, mode);
  switch (mode) {
    case OpenMode::Create:
      return SqliteStore::open(location, true);
    case OpenMode::Existing:
      return SqliteStore::open(location, false);
    case OpenMode::ReadOnly:
      return SqliteStore::open_read_only(location);
    case OpenMode::ForReading:
      return SqliteStore::open_for_reading(location);
  }
  return nullptr;
}

}  // namespace relengine::state
