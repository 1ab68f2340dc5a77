// exec/console: the progress line's text and width, and what the live line does to the output.
#include <doctest/doctest.h>

#include <sstream>

#include "exec/console.h"

using namespace relengine::exec;

TEST_CASE("progress_line: done of total, the phase, the running steps, the time, within the width") {
  Progress p;
  p.done = 3;
  p.total = 12;
  p.phase = "pre-release";
  p.running = {"tag-release", "push-tags"};
  p.elapsed = 62;
  CHECK(progress_line(p, 100) == "[3/12 done] pre-release: running tag-release, push-tags  1m02s");
  p.running = {"a", "b", "c", "d", "e", "f"};
  CHECK(progress_line(p, 100) == "[3/12 done] pre-release: running a, b, c, d and 2 more  1m02s");
  // Narrow terminals: cut with "...", the clock kept, never wider than asked.
  for (std::size_t width : {20u, 30u, 40u, 60u}) {
    CAPTURE(width);
    std::string line = progress_line(p, width);
    CHECK(line.size() <= width);
    CHECK(line.substr(line.size() - 5) == "1m02s");
  }
  CHECK(progress_line(p, 30).find("...") != std::string::npos);
  // Nothing running: what it waits for.
  p.running.clear();
  p.phase.clear();
  p.waiting = "waiting for approval of gate";
  CHECK(progress_line(p, 100) == "[3/12 done] waiting for approval of gate  1m02s");
}

TEST_CASE("Console: a transition erases the live line first, and without `live` none is drawn") {
  std::ostringstream out;
  Console live(out, ConsoleOptions{false, false, false, true});
  Progress p;
  p.total = 2;
  p.running = {"a"};
  p.phase = "one";
  live.live(p);
  relengine::state::StepRecord s;
  s.id = "a";
  s.phase = "one";
  s.status = relengine::state::StepStatus::Succeeded;
  live.transition(s, 1.0);
  CHECK(out.str() == "\r\033[K[0/2 done] one: running a  0.0s\r\033[K[one] a: succeeded 1.0s\n");

  std::ostringstream plain;
  Console off(plain, ConsoleOptions{false, false, false, false});
  off.live(p);
  off.transition(s, 1.0);
  CHECK(plain.str() == "[one] a: succeeded 1.0s\n");
}
