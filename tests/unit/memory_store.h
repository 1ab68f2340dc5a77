// A RunStore in memory, for unit tests of the executor without a database: what the seam
// (state/store.h) makes possible. `fail_after` writes, it fails every write with StateError, as a
// database that went away would; what was committed before stays readable.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "state/store.h"

namespace relengine::testing {

class MemoryStore final : public state::RunStore {
 public:
  int fail_after = -1;  // writes that succeed before the store fails (-1: never)
  int writes = 0;
  std::vector<state::Event> journal;  // every committed event, of every run

  std::string location() const override { return "memory"; }

  bool create_run(const state::RunRecord& run, const std::vector<state::StepRecord>& steps) override {
    write();
    if (runs_.count(run.id)) return false;
    runs_[run.id] = run;
    for (const auto& s : steps) steps_[run.id][s.id] = s;
    event(run.id, "", "run started", 0, "");
    return true;
  }
  std::optional<state::RunRecord> find_run(const std::string& id) override {
    auto it = runs_.find(id);
    return it == runs_.end() ? std::nullopt : std::optional<state::RunRecord>(it->second);
  }
  std::optional<state::RunRecord> latest_run() override {
    auto all = runs();
    return all.empty() ? std::nullopt : std::optional<state::RunRecord>(all.front());
  }
  std::vector<state::RunRecord> runs() override {
    std::vector<state::RunRecord> out;
    for (const auto& [id, r] : runs_) out.push_back(r);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.started > b.started; });
    return out;
  }
  std::vector<state::StepRecord> steps(const std::string& run_id) override {
    std::vector<state::StepRecord> out;
    for (const auto& [id, s] : steps_[run_id]) out.push_back(s);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
    return out;
  }
  std::vector<state::Event> events(const std::string& run_id) override {
    std::vector<state::Event> out;
    for (const auto& e : journal)
      if (e.run_id == run_id) out.push_back(e);
    return out;
  }
  void save_step(const std::string& run_id, const state::StepRecord& step, const std::string& transition,
                 const std::string& message = "") override {
    save_steps(run_id, {{step, transition, message}});
  }
  void add_step(const std::string& run_id, const state::StepRecord& step) override {
    write();
    steps_[run_id][step.id] = step;
  }
  void save_steps(const std::string& run_id, const std::vector<Transition>& steps) override {
    if (steps.empty()) return;
    write();  // one transaction: all or nothing
    for (const auto& t : steps) {
      steps_[run_id][t.step.id] = t.step;
      if (!t.transition.empty()) event(run_id, t.step.id, t.transition, t.step.attempts, t.message);
    }
  }
  void remove_step(const std::string& run_id, const std::string& step_id) override {
    write();
    steps_[run_id].erase(step_id);
  }
  void set_run_status(const std::string& run_id, state::RunStatus status, bool finished) override {
    write();
    runs_[run_id].status = status;
    if (finished) runs_[run_id].finished = state::now_rfc3339();
    event(run_id, "", "run " + std::string(state::name(status)), 0, "");
  }
  void update_run_inputs(const std::string& run_id, const std::map<std::string, std::string>& inputs,
                         const std::string& hash, const std::string& validated_by) override {
    write();
    runs_[run_id].inputs = inputs, runs_[run_id].playbook_hash = hash, runs_[run_id].validated_by = validated_by;
  }
  void update_run_selection(const std::string& run_id, const std::string& selection, const std::string& playbook,
                            const std::string& playbook_path) override {
    write();
    runs_[run_id].selection = selection, runs_[run_id].playbook = playbook, runs_[run_id].playbook_path = playbook_path;
  }
  void record_expansion(const std::string& run_id, const std::string& step, const std::string& items,
                        const std::string& placeholder, const std::vector<state::StepRecord>& instances) override {
    write();
    expansions_[run_id][step] = items;
    steps_[run_id].erase(placeholder);
    for (const auto& s : instances) steps_[run_id][s.id] = s;
  }
  std::map<std::string, std::string> expansions(const std::string& run_id) override { return expansions_[run_id]; }
  void forget_expansion(const std::string& run_id, const std::string& step) override {
    write();
    expansions_[run_id].erase(step);
  }
  void acquire_lease(const std::string& run_id) override {
    write();
    runs_[run_id].lease_pid = 1;
  }
  void heartbeat(const std::string&) override {}
  void release_lease(const std::string& run_id) override {
    write();
    runs_[run_id].lease_pid = 0;
  }
  bool approve(const std::string& run_id, const std::string& step_id, const Approval& a) override {
    write();
    auto& s = steps_[run_id][step_id];
    if (s.status != state::StepStatus::Waiting || s.fingerprint != a.fingerprint) return false;
    s.approved_by = a.by, s.approved_host = a.host, s.approved_at = a.at, s.approval_note = a.note;
    s.approved_fingerprint = a.fingerprint;
    event(run_id, step_id, "approved", 0, a.note);
    return true;
  }
  std::unique_ptr<state::LogWriter> open_log(const std::string&, std::string&) override {
    return std::make_unique<Log>();
  }
  std::map<int, std::string> read_log(const std::string&, const std::string&) override { return {}; }

 private:
  struct Log final : state::LogWriter {
    std::map<std::string, std::map<int, std::string>> text;
    void add(const std::string& step, int attempt, const std::string& t) override { text[step][attempt] += t; }
    bool write(std::string&) override { return true; }
    std::uint64_t mark() const override { return 0; }
    std::map<int, std::string> read(const std::string& step, std::uint64_t) override { return text[step]; }
  };
  void write() {
    if (fail_after >= 0 && writes >= fail_after) throw state::StateError("the store went away (memory store)");
    ++writes;
  }
  void event(const std::string& run_id, const std::string& step, const std::string& transition, int attempt,
             const std::string& message) {
    journal.push_back({static_cast<std::int64_t>(journal.size() + 1), run_id, step, state::now_rfc3339(), transition,
                       attempt, message});
  }
  std::map<std::string, state::RunRecord> runs_;
  std::map<std::string, std::map<std::string, state::StepRecord>> steps_;
  std::map<std::string, std::map<std::string, std::string>> expansions_;
};

}  // namespace relengine::testing
