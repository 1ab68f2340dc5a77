// relengine serve: the live view in a real headless Chromium (driven through ChromeDriver's W3C
// WebDriver API with curl): a step turns from running to succeeded without a reload, and a click
// on it shows the end of its log. Off loopback a token is required and checked; a malformed
// request, an oversized one, a client that stops halfway and one that leaves an event stream do
// not stop it; and it never writes the store. On both stores (e2e/, e2e-pg/).
#include <doctest/doctest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "run.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

// A run whose middle step waits for a file, so that the test decides when it ends.
struct LiveRun {
  TempDir dir;
  std::string state = (dir / "state").string();
  fs::path go = dir / "go";
  int run_pid = -1, serve_pid = -1;
  std::string url;  // http://127.0.0.1:PORT/

  LiveRun() {
    write(dir / "p.yaml", R"YAML(version: 1
name: live
phases:
  - id: build
    steps:
      - id: first
        idempotent: true
        run: echo first-line
      - id: slow
        needs: [first]
        idempotent: true
        run: |
          echo waiting-for-go
          while [ ! -f ")YAML" +
                              go.string() + R"YAML(" ]; do sleep 0.05; done
          echo slow-log-line
          echo "pr=https://github.com/example/repo/pull/7" >> "$RELENGINE_OUTPUT"
      - id: after
        needs: [slow]
        idempotent: true
        run: echo after
)YAML");
  }
  ~LiveRun() {
    write(go, "");
    for (int pid : {serve_pid, run_pid})
      if (pid > 0) {
        ::kill(pid, SIGTERM);
        wait_child(pid);
      }
  }

  // The whole run, its middle step let through at once.
  void run_to_the_end() {
    write(go, "");
    REQUIRE(relengine({"--state-dir", state, "run", "p.yaml"}, dir.path().string()).code == 0);
  }
  void start_run() {
    run_pid = start_child({RELENGINE_BIN, "--state-dir", state, "run", "p.yaml"}, dir.path().string(),
                          (dir / "run.log").string());
    REQUIRE(run_pid > 0);
  }
  // serve, with `args` after `serve`; its URL read from the line it prints.
  void start_serve(std::vector<std::string> args = {"--listen", "127.0.0.1:0"}) {
    std::vector<std::string> argv = {RELENGINE_BIN, "--state-dir", state, "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    serve_pid = start_child(argv, dir.path().string(), (dir / "serve.log").string());
    REQUIRE(serve_pid > 0);
    std::string line = wait_for_line(dir / "serve.log");
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_search(line, m, std::regex("(http://[^ ]+/)")), line);
    url = m[1];
  }
  // GET `path` with curl: "CODE\nBODY" parts.
  std::pair<int, std::string> get(const std::string& path, const std::string& curl_args = "") {
    Result r = shell("curl -s --max-time 20 -o " + quote((dir / "body").string()) + " -w '%{http_code}' " + curl_args +
                     " " + quote(url + path));
    return {r.out.empty() ? 0 : std::stoi(r.out), slurp(dir / "body")};
  }
  json live_state() {
    auto [code, body] = get("api/runs/latest/state");
    return code == 200 ? json::parse(body) : json();
  }
  std::string status_of(const std::string& step) {
    json s = live_state();
    if (!s.is_object()) return "";
    for (const auto& x : s["steps"])
      if (x["id"] == step) return x["status"];
    return "";
  }
};

// ChromeDriver, started on a free port, and one headless Chromium session in it.
class Browser {
 public:
  explicit Browser(const fs::path& dir) : dir_(dir) {
    pid_ = start_child({"/usr/bin/chromedriver", "--port=0"}, dir.string(), (dir / "chromedriver.log").string());
    std::smatch m;
    bool up = eventually([&] {
      std::string log = slurp(dir / "chromedriver.log");
      return std::regex_search(log, m, std::regex("started successfully on port ([0-9]+)"));
    });
    REQUIRE_MESSAGE(up, slurp(dir / "chromedriver.log"));
    port_ = m[1];
    json args =
        json::array({"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--user-data-dir=" + (dir / "profile").string()});
    json caps = {{"capabilities",
                  {{"alwaysMatch", {{"goog:chromeOptions", {{"binary", "/usr/bin/chromium"}, {"args", args}}}}}}}};
    json r = call("POST", "/session", caps);
    REQUIRE_MESSAGE(r["value"].contains("sessionId"), r.dump());
    session_ = r["value"]["sessionId"];
  }
  ~Browser() {
    if (!session_.empty()) call("DELETE", "/session/" + session_);
    ::kill(pid_, SIGTERM);
    wait_child(pid_);
  }

  json call(const std::string& method, const std::string& path, const json& body = nullptr) {
    std::string data;
    if (!body.is_null()) {
      write(dir_ / "request.json", body.dump());
      data = " -H 'Content-Type: application/json' --data-binary @" + quote((dir_ / "request.json").string());
    }
    Result r = shell("curl -s --max-time 60 -X " + method + data + " " + quote("http://127.0.0.1:" + port_ + path));
    return r.out.empty() ? json() : json::parse(r.out, nullptr, false);
  }
  std::string on(const std::string& what) { return "/session/" + session_ + what; }

  void open(const std::string& url) { call("POST", on("/url"), {{"url", url}}); }
  // The element `css` selects, or "" when there is none (yet).
  std::string find(const std::string& css) {
    json r = call("POST", on("/element"), {{"using", "css selector"}, {"value", css}});
    const json& v = r["value"];
    return v.is_object() && v.contains(kElement) ? v[kElement].get<std::string>() : "";
  }
  std::string attribute(const std::string& css, const std::string& name) {
    std::string e = find(css);
    if (e.empty()) return "";
    json r = call("GET", on("/element/" + e + "/attribute/" + name));
    return r["value"].is_string() ? r["value"].get<std::string>() : "";
  }
  std::string text(const std::string& css) {
    std::string e = find(css);
    if (e.empty()) return "";
    json r = call("GET", on("/element/" + e + "/text"));
    return r["value"].is_string() ? r["value"].get<std::string>() : "";
  }
  json click(const std::string& css) { return call("POST", on("/element/" + find(css) + "/click"), json::object()); }
  json script(const std::string& js) {
    return call("POST", on("/execute/sync"), {{"script", js}, {"args", json::array()}})["value"];
  }

 private:
  static constexpr const char* kElement = "element-6066-11e4-a52e-4f735466cecf";
  fs::path dir_;
  int pid_ = -1;
  std::string port_, session_;
};

bool have_browser() { return shell("command -v chromium && command -v chromedriver && command -v curl").code == 0; }

// The names, sizes and contents of the files under `dir`.
std::string snapshot(const fs::path& dir) {
  std::string out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out += e.path().string() + " " + std::to_string(e.file_size()) + " " +
             std::to_string(std::hash<std::string>{}(slurp(e.path()))) + "\n";
  return out;
}

}  // namespace

TEST_CASE(
    "serve in headless Chromium: a step turns from running to succeeded without a reload, and a click shows its log") {
  if (!have_browser()) {
    // Visible in every report, never a silent pass: scripts/test installs them, so CI runs it.
    MESSAGE("SKIPPED: no chromium, chromedriver or curl (`bash scripts/setup browser` installs them)");
    return;
  }
  LiveRun live;
  live.start_run();
  live.start_serve();
  REQUIRE(eventually([&] { return live.status_of("slow") == "running"; }));

  Browser browser(live.dir.path());
  browser.open(live.url + "runs/latest");
  const std::string node = "#graph g.node[data-step=\"slow\"]";
  CHECK(eventually([&] { return browser.attribute(node, "data-status") == "running"; }));
  CHECK(browser.text("#run-status") == "running");
  json loaded_at = browser.script("return window.relengine.loadedAt");
  REQUIRE(loaded_at.is_number());

  write(live.go, "");  // the step may end now
  CHECK(eventually([&] { return browser.attribute(node, "data-status") == "succeeded"; }));
  CHECK(eventually(
      [&] { return browser.attribute("#graph g.node[data-step=\"after\"]", "data-status") == "succeeded"; }));
  CHECK(eventually([&] { return browser.text("#run-status") == "succeeded"; }));
  CHECK(browser.script("return window.relengine.loadedAt") == loaded_at);  // the same page: no reload
  CHECK(browser.script("return window.relengine.updates").get<int>() >= 2);

  // A click on the step in the graph: its state, attempts, outputs and the end of its log.
  json clicked = browser.click(node);
  CHECK_MESSAGE(clicked["value"].is_null(), clicked.dump());
  CHECK(eventually([&] { return browser.text("#panel pre.log").find("slow-log-line") != std::string::npos; }));
  CHECK(browser.attribute("#panel", "data-step") == "slow");
  CHECK(browser.attribute("#panel", "data-status") == "succeeded");
  CHECK(browser.text("#panel").find("https://github.com/example/repo/pull/7") != std::string::npos);

  // A link to a step: the page opens with its panel.
  browser.open(live.url + "runs/latest?step=first");
  CHECK(eventually([&] { return browser.attribute("#panel", "data-step") == "first"; }));
  CHECK(eventually([&] { return browser.text("#panel pre.log").find("first-line") != std::string::npos; }));

  // The report it links to.
  auto [code, body] = live.get("runs/latest/report.md");
  CHECK(code == 200);
  CHECK(body.find("# Release record: live") == 0);
  CHECK(wait_child(live.run_pid) == 0);
  live.run_pid = -1;
}

TEST_CASE("serve: off loopback a token is required, and every request must carry it") {
  if (!have_browser()) {
    MESSAGE("SKIPPED: no curl (`bash scripts/setup browser` installs it)");
    return;
  }
  LiveRun live;
  live.run_to_the_end();

  // No token: refused before it listens.
  Result r = relengine({"--state-dir", live.state, "serve", "--listen", "127.0.0.2:0"});
  CHECK(r.code == 2);
  CHECK(r.err.find("a token is required (--token, or RELENGINE_SERVE_TOKEN)") != std::string::npos);

  const std::string token = "serve-token-5f0c1e";
  ::setenv("RELENGINE_SERVE_TOKEN", token.c_str(), 1);
  live.start_serve({"--listen", "127.0.0.2:0"});
  ::unsetenv("RELENGINE_SERVE_TOKEN");
  REQUIRE(live.url.rfind("http://127.0.0.2:", 0) == 0);
  for (std::string path : {"", "api/runs", "api/runs/latest", "runs/latest", "static/relengine.js"}) {
    CAPTURE(path);
    auto [code, body] = live.get(path);
    CHECK(code == 401);
    CHECK(body.find(token) == std::string::npos);
    CHECK(live.get(path, "-H 'Authorization: Bearer wrong-token'").first == 401);
    CHECK(live.get(path, "-H " + quote("Authorization: Bearer " + token)).first == 200);
  }
  // ?token= once sets a cookie, with which the pages' own requests are answered.
  Result first = shell("curl -s -D - -o /dev/null " + quote(live.url + "?token=" + token));
  CHECK(first.out.find("Set-Cookie: relengine_token=" + token + "; Path=/; HttpOnly; SameSite=Strict") !=
        std::string::npos);
  CHECK(live.get("api/runs", "-H " + quote("Cookie: relengine_token=" + token)).first == 200);
  auto [code, body] = live.get("api/runs", "-H " + quote("Authorization: Bearer " + token));
  CHECK(json::parse(body)[0]["status"] == "succeeded");
}

TEST_CASE("serve survives malformed requests and clients that leave mid-stream, and never writes the store") {
  if (!have_browser()) {
    MESSAGE("SKIPPED: no curl (`bash scripts/setup browser` installs it)");
    return;
  }
  LiveRun live;
  live.run_to_the_end();
  std::string before = on_postgres() ? "" : snapshot(live.state);
  live.start_serve();
  std::string port = live.url.substr(live.url.rfind(':') + 1);
  port.pop_back();
  auto raw = [&](const std::string& bytes) {  // sends `bytes` and reads what comes back
    write(live.dir / "raw", bytes);
    return shell("bash -c " + quote("exec 3<>/dev/tcp/127.0.0.1/" + port + " && cat " +
                                    quote((live.dir / "raw").string()) + " >&3 && timeout 20 cat <&3"))
        .out;
  };
  CHECK(raw("GARBAGE\x01\x02 nonsense\r\n\r\n").rfind("HTTP/1.1 400 Bad Request", 0) == 0);
  CHECK(raw("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(40000, 'a') + "\r\n\r\n")
            .rfind("HTTP/1.1 400", 0) == 0);
  CHECK(raw("POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello").rfind("HTTP/1.1 400", 0) ==
        0);
  // A request cut off halfway, and one abandoned before a byte: the connection just ends.
  shell("bash -c " + quote("exec 3<>/dev/tcp/127.0.0.1/" + port + " && printf 'GET /api/runs HTTP/1.1\\r\\nHo' >&3"));
  shell("bash -c " + quote("exec 3<>/dev/tcp/127.0.0.1/" + port));
  // Clients that leave an event stream in the middle of it.
  for (int i = 0; i < 5; ++i) {
    Result sse = shell("curl -s -N --max-time 1 " + quote(live.url + "api/runs/latest/events"));
    CHECK(sse.code == 28);  // curl's "timed out": it left, the server did not end the stream
    CHECK(sse.out.rfind("event: state\ndata: {", 0) == 0);
  }
  // What a read-only view refuses, and names it does not answer to without a token.
  CHECK(live.get("api/runs", "-X POST").first == 405);
  CHECK(live.get("api/runs", "-X DELETE").first == 405);
  CHECK(live.get("api/runs", "-H 'Host: rebind.example.com'").first == 403);
  CHECK(live.get("api/runs/nope").first == 404);
  CHECK(live.get("api/runs/latest/steps/nope").first == 404);
  CHECK(live.get("api/runs/latest/steps/slow?lines=x").first == 400);
  CHECK(live.get("../../etc/passwd").first == 404);

  // Still serving, and the store as it was.
  CHECK(alive(live.serve_pid));
  auto [code, body] = live.get("api/runs");
  CHECK(code == 200);
  CHECK(json::parse(body)[0]["status"] == "succeeded");
  auto step = live.get("api/runs/latest/steps/slow?lines=2");
  CHECK(step.first == 200);
  CHECK(json::parse(step.second)["logs"][0]["tail"] == json::array({"waiting-for-go", "slow-log-line"}));
  ::kill(live.serve_pid, SIGTERM);
  CHECK(wait_child(live.serve_pid) == 0);
  live.serve_pid = -1;
  if (!on_postgres()) CHECK(snapshot(live.state) == before);
}
