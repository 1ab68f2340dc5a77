// The embedded store: one SQLite database (STATE_DIR/state.db: WAL, synchronous=FULL) per state
// directory, and the runs' logs beside it (STATE_DIR/logs/RUN.log, state/run_log.h).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "state/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace relengine::state {

class SqliteStore final : public RunStore {
 public:
  // Opens STATE_DIR/state.db. `create`: make the directory and database if absent.
  // Throws StateError: not found (when !create), unreadable, corrupt, newer, locked.
  // An existing database is checked read-only first and never rewritten when it is bad.
  static std::unique_ptr<SqliteStore> open(const std::string& state_dir, bool create);
  // Opens an existing STATE_DIR/state.db for reading only, creating no file and writing nothing
  // (a dry run): no migration (an older schema is refused with what to do), no WAL switch.
  static std::unique_ptr<SqliteStore> open_read_only(const std::string& state_dir);
  // For the commands that only read (status, runs, logs, graph --run): read-only, so a writer's
  // lock does not make them wait; a state of an older schema is migrated first (a normal open).
  static std::unique_ptr<SqliteStore> open_for_reading(const std::string& state_dir);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  const std::string& dir() const { return dir_; }
  std::string location() const override { return dir_; }

  bool create_run(const RunRecord& run, const std::vector<StepRecord>& steps) override;
  std::optional<RunRecord> find_run(const std::string& id) override;
  std::optional<RunRecord> latest_run() override;
  std::vector<RunRecord> runs() override;
  std::vector<StepRecord> steps(const std::string& run_id) override;
  std::vector<Event> events(const std::string& run_id) override;
  void save_step(const std::string& run_id, const StepRecord& step, const std::string& transition,
                 const std::string& message = "") override;
  void add_step(const std::string& run_id, const StepRecord& step) override;
  void save_steps(const std::string& run_id, const std::vector<Transition>& steps) override;
  void remove_step(const std::string& run_id, const std::string& step_id) override;
  void set_run_status(const std::string& run_id, RunStatus status, bool finished) override;
  void update_run_selection(const std::string& run_id, const std::string& selection, const std::string& playbook,
                            const std::string& playbook_path) override;
  void update_run_inputs(const std::string& run_id, const std::map<std::string, std::string>& inputs,
                         const std::string& playbook_hash, const std::string& validated_by) override;
  void record_expansion(const std::string& run_id, const std::string& step, const std::string& items,
                        const std::string& placeholder, const std::vector<StepRecord>& instances) override;
  std::map<std::string, std::string> expansions(const std::string& run_id) override;
  void forget_expansion(const std::string& run_id, const std::string& step) override;
  void acquire_lease(const std::string& run_id) override;
  void heartbeat(const std::string& run_id) override;
  void release_lease(const std::string& run_id) override;
  bool approve(const std::string& run_id, const std::string& step_id, const Approval& approval) override;
  std::unique_ptr<LogWriter> open_log(const std::string& run_id, std::string& error) override;
  std::map<int, std::string> read_log(const std::string& run_id, const std::string& step) override;

 private:
  SqliteStore(std::string dir, sqlite3* db);
  void exec(const char* sql);
  void migrate();
  void fence(const std::string& run_id);

  sqlite3_stmt* prepared(const char* sql);  // prepared once per store, reset after each use

  std::string dir_;
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> prepared_;
  std::set<std::string> leased_;  // the runs whose lease this store took (and so fences)
  int lease_pid_ = 0;             // this process and machine as the lease records them
  std::string lease_host_;
};

}  // namespace relengine::state
