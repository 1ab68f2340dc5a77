// The progress line: on a terminal (a pty made by script(1)) one live line at the bottom, redrawn
// in place, the transition lines above it, and gone when the run ends; never in a file, with
// --quiet or on TERM=dumb; without colour under NO_COLOR.
#include <doctest/doctest.h>

#include "run.h"

using namespace e2e;

namespace {

// The screen a terminal shows after `bytes`: \r returns to the line's start, ESC[K erases to its
// end, other escape sequences (colours) draw nothing.
std::vector<std::string> screen(const std::string& bytes) {
  std::vector<std::string> rows(1);
  std::size_t col = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    std::string& row = rows.back();
    if (c == '\r') {
      col = 0;
    } else if (c == '\n') {
      rows.emplace_back();
      col = 0;
    } else if (c == '\033' && i + 1 < bytes.size() && bytes[i + 1] == '[') {
      std::size_t j = i + 2;
      while (j < bytes.size() && !std::isalpha(static_cast<unsigned char>(bytes[j]))) ++j;
      if (j < bytes.size() && bytes[j] == 'K') row.erase(std::min(col, row.size()));
      i = j;
    } else {
      if (col < row.size())
        row[col] = c;
      else
        row += c;
      ++col;
    }
  }
  return rows;
}

struct Progressed {
  TempDir dir;
  Progressed() {
    write(dir / "p.yaml", R"YAML(version: 1
name: progress
phases:
  - id: build
    steps:
      - id: first
        idempotent: true
        run: echo first
      - id: slow
        needs: [first]
        idempotent: true
        run: sleep "${SLOW_SECONDS:-0.1}"
      - id: after
        needs: [slow]
        idempotent: true
        run: echo after
)YAML");
  }
  // The run's output under a pseudo-terminal (script -q: nothing of its own in the output).
  std::string on_terminal(const std::string& env, const std::string& flags = "") {
    std::string cmd = quote(RELENGINE_BIN) + " " + flags + " --state-dir " +
                      quote(state_location((dir / "state").string())) + " run p.yaml";
    Result r = shell("cd " + quote(dir.path().string()) + " && env " + env + " script -qfec " + quote(cmd) + " " +
                     quote((dir / "typescript").string()) + " > /dev/null");
    std::string t = slurp(dir / "typescript");
    // relengine's stderr went to the terminal too: on failure the typescript says why.
    REQUIRE_MESSAGE(r.code == 0, std::string(r.err + t));
    // script(1) writes a header and a footer line around what the command printed.
    auto first = t.find('\n');
    auto last = t.rfind("\nScript done");
    return t.substr(first + 1, (last == std::string::npos ? t.size() : last) - first - 1);
  }
};

}  // namespace

TEST_CASE("progress line: live at the bottom of a terminal while the run goes on, gone when it ends") {
  if (shell("command -v script").code != 0) {
    MESSAGE("SKIPPED: no script(1) (util-linux) to make a terminal");
    return;
  }
  Progressed p;
  std::string out = p.on_terminal("TERM=xterm SLOW_SECONDS=2.5");
  // Drawn in place while `slow` runs: steps done of all, the phase, the running step, the time.
  CHECK(out.find("\r\033[K\033[34m[1/3 done] build: running slow  ") != std::string::npos);
  // Redrawn each second while the step runs: drawn at least twice.
  std::size_t draws = 0;
  for (auto at = out.find("[1/3 done] build: running slow  "); at != std::string::npos;
       at = out.find("[1/3 done] build: running slow  ", at + 1))
    ++draws;
  CHECK(draws >= 2);
  // On the final screen: every transition line and the summary, and no progress line left.
  std::vector<std::string> rows = screen(out);
  std::string shown;
  for (const auto& r : rows) shown += r + "\n";
  CAPTURE(shown);
  CHECK(shown.find("done]") == std::string::npos);
  CHECK(shown.find("[build] slow: succeeded") != std::string::npos);
  CHECK(shown.find("[build] after: succeeded") != std::string::npos);
  CHECK(shown.find("3 succeeded") != std::string::npos);

  // NO_COLOR: the line, without colour.
  std::string plain = p.on_terminal("TERM=xterm NO_COLOR=1");
  CHECK(plain.find("\r\033[K[1/3 done] build: running slow") != std::string::npos);
  CHECK(plain.find("\033[3") == std::string::npos);
  // A terminal that cannot redraw a line, and --quiet: none.
  for (const auto& [env, flags] :
       std::vector<std::pair<std::string, std::string>>{{"TERM=dumb", ""}, {"TERM=xterm", "-q"}}) {
    CAPTURE(env);
    CAPTURE(flags);
    std::string none = p.on_terminal(env, flags);
    CHECK(none.find("done]") == std::string::npos);
    CHECK(none.find("\033[K") == std::string::npos);
  }
}

TEST_CASE("progress line: absent when stdout is a file or a pipe") {
  Progressed p;
  Result r =
      relengine({"--state-dir", (p.dir / "state").string(), "run", "p.yaml"}, p.dir.path().string(), "TERM=xterm");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("[build] slow: succeeded") != std::string::npos);
  CHECK(r.out.find("done]") == std::string::npos);
  CHECK(r.out.find('\r') == std::string::npos);
  CHECK(r.out.find("\033[") == std::string::npos);
}
