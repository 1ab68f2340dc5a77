#include "exec/schedule.h"

#include <algorithm>

namespace relengine::exec {

Schedule::Schedule(const graph::StepGraph& graph, const std::vector<bool>& done, std::size_t jobs)
    : state_(graph.size()), jobs_(std::max<std::size_t>(1, jobs)) {
  // Through a done step, what it waits for is still waited for: `above` collects, for a done
  // step, the steps not done that it comes after.
  std::vector<std::vector<graph::Vertex>> above(graph.size());
  auto order = graph.topological_order();
  for (std::size_t i = 0; i < order.size(); ++i) {
    graph::Vertex v = order[i];
    StepState& s = state_[v];
    s.position = i;
    s.done = v < done.size() && done[v];
    std::vector<graph::Vertex> waits;
    for (auto d : graph.dependencies(v)) {
      if (!state_[d].done)
        waits.push_back(d);
      else
        waits.insert(waits.end(), above[d].begin(), above[d].end());
    }
    std::sort(waits.begin(), waits.end());
    waits.erase(std::unique(waits.begin(), waits.end()), waits.end());
    if (s.done) {
      above[v] = std::move(waits);
      continue;
    }
    for (auto u : waits) state_[u].waiters.push_back(v);
    s.remaining = waits.size();
    s.waits = std::move(waits);
    if (s.remaining == 0) make_ready(v);
  }
}

Schedule::StepState& Schedule::at(graph::Vertex v) {
  if (v >= state_.size()) state_.resize(v + 1);
  return state_[v];
}

void Schedule::make_ready(graph::Vertex v) {
  StepState& s = at(v);
  if (s.queued || s.done) return;
  s.queued = true;
  ready_.push({s.position, v});
}

std::optional<graph::Vertex> Schedule::peek() const {
  if (ready_.empty()) return std::nullopt;
  return ready_.top().second;
}

void Schedule::pop() {
  if (ready_.empty()) return;
  state_[ready_.top().second].queued = false;
  ready_.pop();
}

void Schedule::take_slot(graph::Vertex v) {
  StepState& s = at(v);
  if (s.slot) return;
  s.slot = true;
  ++running_;
}

bool Schedule::take_lock(graph::Vertex v, const std::string& lock) {
  if (lock.empty()) return true;
  auto it = locks_.find(lock);
  if (it != locks_.end() && it->second != v) {
    lock_waiters_[lock].push_back(v);
    return false;
  }
  locks_[lock] = v;
  at(v).lock = lock;
  return true;
}

void Schedule::release(graph::Vertex v) {
  StepState& s = at(v);
  if (!s.lock.empty()) {
    locks_.erase(s.lock);
    auto it = lock_waiters_.find(s.lock);
    if (it != lock_waiters_.end()) {
      for (auto w : it->second) make_ready(w);
      lock_waiters_.erase(it);
    }
    s.lock.clear();
  }
  if (s.slot) {
    s.slot = false;
    --running_;
  }
}

void Schedule::requeue(graph::Vertex v) { make_ready(v); }

void Schedule::done(graph::Vertex v) {
  release(v);
  StepState& s = at(v);
  if (s.done) return;
  s.done = true;
  for (auto w : s.waiters) {
    StepState& t = state_[w];
    if (t.remaining > 0 && --t.remaining == 0) make_ready(w);
  }
}

void Schedule::expanded(graph::Vertex placeholder, const std::vector<graph::Vertex>& added) {
  StepState& p = at(placeholder);
  std::vector<graph::Vertex> waiters;
  for (auto w : p.waiters)
    if (!state_[w].done) waiters.push_back(w);
  std::vector<graph::Vertex> waits = p.waits;
  std::size_t position = p.position;
  p.done = true;  // stands for nothing any more
  p.waiters.clear();
  for (auto a : added) {
    StepState& s = at(a);
    s.waits = waits;
    s.waiters = waiters;
    s.position = position;
    make_ready(a);  // the placeholder was ready: so are they
  }
  for (auto w : waiters) {
    StepState& t = state_[w];
    t.waits.erase(std::remove(t.waits.begin(), t.waits.end(), placeholder), t.waits.end());
    t.waits.insert(t.waits.end(), added.begin(), added.end());
    t.remaining = t.remaining - 1 + added.size();
    if (t.remaining == 0) make_ready(w);
  }
}

}  // namespace relengine::exec
