// What may run next in a run (ninja's Plan): the ready set — steps whose dependencies in this
// invocation are done — in the run's order, at most `jobs` commands at once, never two steps
// holding the same lock. Pure bookkeeping: no processes, no clock, no store. The Builder asks it
// what is ready and tells it what happened. Used by exec/builder; tested on its own.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "graph/step_graph.h"

namespace relengine::exec {

class Schedule {
 public:
  // `done[v]`: v needs nothing more in this invocation. A step waits for its dependencies that
  // are not done and, through those that are, for theirs: a step that runs again on resume (its
  // definition changed) still comes before a later step that is pending.
  Schedule(const graph::StepGraph& graph, const std::vector<bool>& done, std::size_t jobs);

  // The ready step that comes first in the run's order; it stays ready until pop().
  std::optional<graph::Vertex> peek() const;
  void pop();

  // Command slots (-j): a step holds one while its commands run.
  bool slot_free() const { return running_ < jobs_; }
  std::size_t running() const { return running_; }
  void take_slot(graph::Vertex v);
  // False when another step holds `lock`: v waits for it and becomes ready again when it is released.
  bool take_lock(graph::Vertex v, const std::string& lock);
  // Gives back v's slot and lock (a finished attempt); those waiting for the lock become ready.
  void release(graph::Vertex v);
  // Ready again: after a retry delay, an approval.
  void requeue(graph::Vertex v);

  // v is done for this invocation: the steps waiting for it whose last wait it was become ready.
  void done(graph::Vertex v);
  bool is_done(graph::Vertex v) const { return v < state_.size() && state_[v].done; }
  // The steps v runs after in this invocation (a failed or cancelled one cancels v).
  const std::vector<graph::Vertex>& waits(graph::Vertex v) const { return state_[v].waits; }

  // A for_each known at run time was expanded: the instances `added` take the place of
  // `placeholder` (done, and ready no more) for everything that waited for it; they are ready.
  void expanded(graph::Vertex placeholder, const std::vector<graph::Vertex>& added);

  // The position of v in the run's order (ties of the ready set are broken by it).
  std::size_t position(graph::Vertex v) const { return state_[v].position; }

 private:
  struct StepState {
    std::vector<graph::Vertex> waits;    // what it runs after
    std::vector<graph::Vertex> waiters;  // what runs after it
    std::size_t remaining = 0;           // of waits, those not done
    std::size_t position = 0;
    bool done = false;
    bool queued = false;  // in ready_
    bool slot = false;
    std::string lock;  // held
  };
  using Ready = std::pair<std::size_t, graph::Vertex>;

  void make_ready(graph::Vertex v);
  StepState& at(graph::Vertex v);

  std::vector<StepState> state_;
  std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready_;
  std::map<std::string, graph::Vertex> locks_;  // lock -> holder
  std::map<std::string, std::vector<graph::Vertex>> lock_waiters_;
  std::size_t jobs_ = 1;
  std::size_t running_ = 0;
};

}  // namespace relengine::exec
