// What a resume does with each step of a stored run, decided from the playbook as it is now and
// the run as stored: a pure function (no store, no clock, no processes), so that `resume
// --dry-run` prints the decisions and writes nothing, and a real resume writes them only once it
// holds the run's lease. Used by exec/session; tested on its own.
#pragma once

#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "plan/plan.h"
#include "state/store.h"

namespace relengine::exec {

struct ReconcileInput {
  const plan::Prepared* prepared = nullptr;
  const plan::Plan* plan = nullptr;  // in execution order, the selection applied
  const std::vector<state::StepRecord>* recorded = nullptr;
  std::set<graph::Vertex> rerun;   // reset by --rerun / --rerun-phase (downstream included)
  std::set<std::string> reexpand;  // for_each steps expanded again (their instances dropped)
  std::string run_id;
  // Another live process drives the run (a dry run looks without taking the lease): its running
  // steps are running, not interrupted.
  bool driven_elsewhere = false;
};

struct Reconciliation {
  std::vector<state::StepRecord> records;  // every step from now on, in execution order
  // What the resume saves, in this order, in one transaction (after taking the lease): a running
  // step of a dead driver is journaled `interrupted` before it is reset.
  std::vector<state::RunStore::Transition> writes;
  std::vector<std::pair<std::string, std::string>> removed;  // id, why it is dropped
  std::vector<std::pair<std::string, std::string>> to_run;   // id, why it runs (or waits)
  std::vector<std::string> voided;                           // "approval of X voided: ..." (the step asks again)
  std::size_t not_started = 0;                               // pending steps that never ran (summarized, not listed)
};

Reconciliation reconcile(const ReconcileInput& in);

// The plan a resume prints before anything runs (also the whole output of a dry run).
void print_reconciliation(std::ostream& out, const state::RunRecord& run, const Reconciliation& r);

}  // namespace relengine::exec
