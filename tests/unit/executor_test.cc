// The executor's decisions without processes: the Schedule on its own (order, -j, locks, waits
// across done steps, expansion), reconcile (what a resume does with each stored step), and the
// Builder driven by a fake CommandRunner (ordering, -j, locks, retries, cancellation, gates).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "exec/builder.h"
#include "exec/reconcile.h"
#include "exec/schedule.h"
#include "exec/session.h"
#include "load/loader.h"
#include "memory_store.h"
#include "model/exit_code.h"
#include "plan/plan.h"
#include "state/sqlite_store.h"
#include "temp_dir.h"

using namespace relengine;
using exec::Schedule;
using state::StepStatus;

namespace {

model::Playbook load_pb(const std::string& text) {
  auto r = load::load_text("x.yaml", text);
  for (const auto& d : r.diags.sorted()) MESSAGE(load::format(d));
  REQUIRE(r.playbook);
  return *r.playbook;
}

graph::Vertex vertex(const graph::StepGraph& g, const std::string& id) {
  auto v = g.find(id);
  REQUIRE_MESSAGE(v, id);
  return *v;
}

// Takes every ready step (as many as may run), in order.
std::vector<std::string> take_all(Schedule& s, const graph::StepGraph& g) {
  std::vector<std::string> out;
  while (auto v = s.peek()) {
    if (!s.slot_free()) break;
    s.pop();
    s.take_slot(*v);
    out.push_back(g.node(*v).id);
  }
  return out;
}

const char* kChain = R"(version: 1
name: x
phases:
  - id: p
    steps:
      - {id: a, run: x, idempotent: true}
      - {id: b, run: x, idempotent: true}
      - {id: c, run: x, idempotent: true}
      - {id: d, needs: [], run: x, idempotent: true}
)";

}  // namespace

TEST_CASE("Schedule: the ready set in file order, -j slots, and waiters released by done()") {
  auto pb = load_pb(kChain);
  auto g = graph::StepGraph::of_steps(pb);
  Schedule s(g, std::vector<bool>(g.size(), false), 1);
  CHECK(take_all(s, g) == std::vector<std::string>{"a"});  // d is ready too, but one slot
  CHECK(s.peek() == vertex(g, "d"));
  s.done(vertex(g, "a"));
  CHECK(take_all(s, g) == std::vector<std::string>{"b"});  // b (file order) before d
  s.done(vertex(g, "b"));
  s.done(vertex(g, "d"));  // even unstarted, d done
  CHECK(take_all(s, g) == std::vector<std::string>{"c"});

  Schedule wide(g, std::vector<bool>(g.size(), false), 8);
  CHECK(take_all(wide, g) == std::vector<std::string>{"a", "d"});
  CHECK(wide.running() == 2);
}

TEST_CASE("Schedule: through a done step, a step still waits for what runs before it") {
  auto pb = load_pb(kChain);
  auto g = graph::StepGraph::of_steps(pb);
  // b is done (succeeded earlier); a runs again (changed); c is pending: c waits for a.
  std::vector<bool> done(g.size(), false);
  done[vertex(g, "b")] = true;
  done[vertex(g, "d")] = true;
  Schedule s(g, done, 4);
  CHECK(take_all(s, g) == std::vector<std::string>{"a"});
  CHECK(s.waits(vertex(g, "c")) == std::vector<graph::Vertex>{vertex(g, "a")});
  s.done(vertex(g, "a"));
  CHECK(take_all(s, g) == std::vector<std::string>{"c"});
}

TEST_CASE("Schedule: a lock held makes the other step wait for it, ready again on release") {
  auto pb = load_pb(kChain);
  auto g = graph::StepGraph::of_steps(pb);
  Schedule s(g, std::vector<bool>(g.size(), false), 4);
  auto a = vertex(g, "a"), d = vertex(g, "d");
  s.pop();
  CHECK(s.take_lock(a, "repo"));
  s.take_slot(a);
  CHECK(s.peek() == d);
  s.pop();
  CHECK(!s.take_lock(d, "repo"));
  CHECK(!s.peek());  // d waits for the lock, not in the ready set
  s.release(a);
  CHECK(s.peek() == d);
  CHECK(s.take_lock(d, "repo"));
}

TEST_CASE("Schedule: an expanded placeholder hands its waiters to its instances") {
  auto pb = load_pb(R"(version: 1
name: x
phases:
  - id: p
    steps:
      - {id: find, run: x, idempotent: true}
      - {id: fan, for_each: "${{ fromJSON(steps.find.outputs.list) }}", run: x, idempotent: true}
      - {id: last, run: x, idempotent: true}
)");
  auto unknown = [](const model::Step&) -> std::optional<std::vector<expr::Value>> { return std::nullopt; };
  auto g = graph::StepGraph::expanded(pb, unknown);
  Schedule s(g, std::vector<bool>(g.size(), false), 4);
  take_all(s, g);
  s.done(vertex(g, "find"));
  auto placeholder = vertex(g, "fan[*]");
  CHECK(s.peek() == placeholder);
  s.pop();
  auto added = g.expand(placeholder, {expr::Value("x"), expr::Value("y")});
  s.expanded(placeholder, added);
  CHECK(take_all(s, g) == std::vector<std::string>{"fan[x]", "fan[y]"});
  s.done(added[0]);
  CHECK(!s.peek());  // last waits for fan[y] too
  s.done(added[1]);
  CHECK(take_all(s, g) == std::vector<std::string>{"last"});
}

namespace {

// A CommandRunner that runs nothing: each command "exits" from the event loop with what the test
// says; the test sees every command started and how many ran at once.
class FakeRunner : public exec::CommandRunner {
 public:
  struct Outcome {
    int code = 0;
    std::string output;
    std::string outputs;  // written to $RELENGINE_OUTPUT
  };
  explicit FakeRunner(boost::asio::io_context& io) : io_(io) {}
  std::function<Outcome(const exec::CommandSpec&)> behave = [](const exec::CommandSpec&) { return Outcome{}; };
  std::vector<std::string> started;  // RELENGINE_STEP of each command, in order
  int running = 0, most = 0;

  class Cmd : public Command {
   public:
    void terminate() override {}
    void kill() override {}
  };
  std::unique_ptr<Command> start(const exec::CommandSpec& spec, OutputHandler on_output, ExitHandler on_exit) override {
    started.push_back(spec.env.at("RELENGINE_STEP"));
    most = std::max(most, ++running);
    Outcome o = behave(spec);
    if (!o.outputs.empty()) std::ofstream(spec.env.at("RELENGINE_OUTPUT"), std::ios::app) << o.outputs;
    boost::asio::post(io_, [this, o, on_output, on_exit] {
      --running;
      if (!o.output.empty()) on_output(o.output);
      on_exit(exec::ExitStatus{o.code, true, ""});
    });
    return std::make_unique<Cmd>();
  }

 private:
  boost::asio::io_context& io_;
};

struct Harness {
  TempDirectory dir;
  model::Playbook pb;
  plan::Prepared prep;
  std::unique_ptr<state::RunStore> store = state::SqliteStore::open((dir.path / "state").string(), true);
  state::RunRecord run;
  boost::asio::io_context io;
  FakeRunner runner{io};
  exec::RunOptions options;

  explicit Harness(const std::string& text) : pb(load_pb(text)) {
    pb.path = dir / "x.yaml";
    load::Diagnostics diags;
    prep = plan::prepare(pb, load::InputSources{}, diags);
    REQUIRE(!diags.has_errors());
    run.id = "r1", run.playbook = pb.path, run.playbook_path = pb.path, run.name = "x", run.started = "t";
    options.quiet = true;
    options.state_dir = dir / "state";
  }
  int go() {
    std::vector<state::StepRecord> records;
    int order = 0;
    for (auto v : prep.graph.topological_order()) {
      state::StepRecord r;
      r.id = prep.graph.node(v).id, r.step = prep.graph.node(v).step->id.value,
      r.phase = prep.graph.node(v).phase->id.value;
      r.order = order++;
      records.push_back(r);
    }
    store->create_run(run, records);
    store->acquire_lease(run.id);
    return exec::build(io, runner, *store, prep, run, records, options);
  }
  StepStatus status(const std::string& id) {
    for (const auto& s : store->steps(run.id))
      if (s.id == id) return s.status;
    FAIL("no step " << id);
    return StepStatus::Pending;
  }
};

}  // namespace

TEST_CASE("Builder with a fake runner: order, -j, and every step once") {
  Harness h(kChain);
  h.options.jobs = 2;
  CHECK(h.go() == kOk);
  CHECK(h.runner.started.size() == 4);
  auto pos = [&](const std::string& id) {
    return std::find(h.runner.started.begin(), h.runner.started.end(), id) - h.runner.started.begin();
  };
  CHECK(pos("a") < pos("b"));
  CHECK(pos("b") < pos("c"));
  CHECK(h.runner.most == 2);  // a and d together

  Harness one(kChain);
  one.options.jobs = 1;
  CHECK(one.go() == kOk);
  CHECK(one.runner.most == 1);
}

TEST_CASE("Builder with a fake runner: steps with the same lock never run at once") {
  Harness h(R"(version: 1
name: x
phases:
  - id: p
    steps:
      - {id: a, needs: [], lock: repo, run: x, idempotent: true}
      - {id: b, needs: [], lock: repo, run: x, idempotent: true}
      - {id: c, needs: [], run: x, idempotent: true}
)");
  h.options.jobs = 8;
  CHECK(h.go() == kOk);
  CHECK(h.runner.most == 2);  // a (or b) with c, never a with b
}

TEST_CASE("Builder with a fake runner: retries, cancellation of dependents, independent branches go on") {
  Harness h(R"(version: 1
name: x
phases:
  - id: p
    steps:
      - {id: flaky, retry: {attempts: 3, delay: 0s}, run: x, idempotent: true}
      - {id: broken, needs: [], run: x, idempotent: true}
      - {id: after-broken, needs: [broken], run: x, idempotent: true}
      - {id: after-flaky, needs: [flaky], run: x, idempotent: true}
)");
  int flaky = 0;
  h.runner.behave = [&](const exec::CommandSpec& spec) {
    FakeRunner::Outcome o;
    std::string step = spec.env.at("RELENGINE_STEP");
    if (step == "flaky") o.code = ++flaky < 3 ? 1 : 0;
    if (step == "broken") o.code = 2;
    return o;
  };
  CHECK(h.go() == kStepFailed);
  CHECK(flaky == 3);
  CHECK(h.status("flaky") == StepStatus::Succeeded);
  CHECK(h.status("after-flaky") == StepStatus::Succeeded);
  CHECK(h.status("broken") == StepStatus::Failed);
  CHECK(h.status("after-broken") == StepStatus::Cancelled);
  CHECK(std::count(h.runner.started.begin(), h.runner.started.end(), "after-broken") == 0);
}

TEST_CASE("Builder with a fake runner: done_if that holds skips the action — a gate waits unless auto-approved") {
  const char* text = R"(version: 1
name: x
phases:
  - id: p
    steps:
      - {id: already, done_if: "true", run: x}
      - {id: gate, manual: "Go on?"}
      - {id: after, run: x, idempotent: true}
)";
  Harness h(text);
  CHECK(h.go() == kPaused);
  CHECK(h.status("already") == StepStatus::Skipped);
  CHECK(h.status("gate") == StepStatus::Waiting);
  CHECK(h.status("after") == StepStatus::Pending);
  CHECK(h.runner.started == std::vector<std::string>{"already"});  // its done_if only

  Harness auto_approve(text);
  auto_approve.options.auto_approve = true;
  CHECK(auto_approve.go() == kOk);
  CHECK(auto_approve.status("gate") == StepStatus::Succeeded);
  CHECK(auto_approve.status("after") == StepStatus::Succeeded);
  for (const auto& s : auto_approve.store->steps("r1"))
    if (s.id == "gate") CHECK(!s.approved_fingerprint.empty());
}

TEST_CASE("reconcile: a pure decision per stored step — nothing is written by deciding") {
  TempDirectory dir;
  auto pb = load_pb(R"(version: 1
name: x
phases:
  - id: p
    steps:
      - {id: done, run: x, idempotent: true}
      - {id: ran, run: x, idempotent: true}
      - {id: push, irreversible: true, run: push, idempotent: true}
      - {id: later, run: x, idempotent: true}
)");
  load::Diagnostics diags;
  auto prep = plan::prepare(pb, load::InputSources{}, diags);
  auto plan = plan::make_plan(prep, plan::Selection{}, diags);
  REQUIRE(!diags.has_errors());
  auto fp = [&](const std::string& id) {
    for (const auto& ps : plan.steps)
      if (ps.id == id) return plan::fingerprint(ps);
    return std::string();
  };
  std::vector<state::StepRecord> stored(4);
  const char* ids[] = {"done", "ran", "push", "later"};
  for (int i = 0; i < 4; ++i) stored[i].id = stored[i].step = ids[i], stored[i].phase = "p", stored[i].order = i;
  stored[0].status = StepStatus::Succeeded, stored[0].fingerprint = fp("done");
  stored[1].status = StepStatus::Running;  // its driver died
  stored[2].status = StepStatus::Waiting, stored[2].approved_by = "ann",
  stored[2].approved_fingerprint = "0000000000000000";
  exec::ReconcileInput in;
  in.prepared = &prep;
  in.plan = &plan;
  in.recorded = &stored;
  in.run_id = "r1";
  auto r = exec::reconcile(in);
  REQUIRE(r.records.size() == 4);
  CHECK(r.records[0].status == StepStatus::Succeeded);  // unchanged: not run again
  CHECK(r.records[1].status == StepStatus::Pending);    // interrupted, then reset
  REQUIRE(r.writes.size() >= 2);
  CHECK(r.writes[0].transition == "interrupted");
  CHECK(r.records[2].approved_by.empty());  // approved for something else: void
  REQUIRE(r.voided.size() == 1);
  CHECK(r.voided[0].find("approval of push by ann voided") == 0);
  CHECK(r.not_started == 1);  // later

  // Another live driver: its running step stays running, and nothing is to be written for it.
  in.driven_elsewhere = true;
  auto elsewhere = exec::reconcile(in);
  CHECK(elsewhere.records[1].status == StepStatus::Running);
  for (const auto& w : elsewhere.writes) CHECK(w.step.id != "ran");
}

TEST_CASE("Builder with an in-memory store that goes away: no step starts whose start was not committed") {
  // The store fails at every write from the n-th on (a database that went away), for each n.
  for (int fail_after = 2; fail_after <= 16; ++fail_after) {
    CAPTURE(fail_after);
    Harness h(kChain);
    h.options.jobs = 2;
    auto memory = std::make_unique<testing::MemoryStore>();
    testing::MemoryStore& store = *memory;
    h.store = std::move(memory);
    store.fail_after = fail_after;  // create_run and acquire_lease are the first two
    bool failed = false;
    int code = -1;
    try {
      code = h.go();
    } catch (const state::StateError& e) {
      failed = true;
      CHECK(std::string(e.what()).find("went away") != std::string::npos);
    }
    if (!failed) CHECK(code == kOk);  // enough writes for the whole run
    std::set<std::string> running;
    for (const auto& e : store.journal)
      if (e.transition == "running") running.insert(e.step);
    for (const auto& id : h.runner.started) {
      CAPTURE(id);
      CHECK(running.count(id) == 1);  // committed before its command started
    }
  }
}

TEST_CASE("a new run's id: one another driver took meanwhile is replaced by the next made, a given one is not") {
  relengine::testing::MemoryStore store;
  state::RunRecord first;
  first.id = "20261201-233930-5106";
  REQUIRE(store.create_run(first, {}));
  // The id generator makes the taken id first (two drivers in the same second, the same suffix).
  std::vector<std::string> made{"20261201-233930-5106", "20261201-233930-77aa"};
  std::size_t calls = 0;
  auto make = [&] { return made.at(calls++); };
  state::RunRecord run;
  CHECK(exec::create_new_run(store, run, {}, make));
  CHECK(run.id == "20261201-233930-77aa");
  CHECK(calls == 2);
  CHECK(store.runs().size() == 2);
  // An id given by the user (--run-id) that is taken: refused, not changed.
  state::RunRecord given;
  given.id = "20261201-233930-5106";
  CHECK_FALSE(exec::create_new_run(store, given, {}, {}));
  CHECK(given.id == "20261201-233930-5106");
  // A generator that only makes taken ids: given up, not a loop without end.
  state::RunRecord stuck;
  CHECK_FALSE(exec::create_new_run(store, stuck, {}, [] { return std::string("20261201-233930-5106"); }));
}
