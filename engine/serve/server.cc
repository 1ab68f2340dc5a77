#include "serve/server.h"

#include <openssl/crypto.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>

#include "render/graph_render.h"
#include "serve/pages.h"
#include "state/pg_store.h"
#include "state/store.h"
#include "view/record.h"
#include "view/run_graph.h"

namespace relengine::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Request = http::request<http::empty_body>;
using Response = http::response<http::string_body>;

namespace {

// ---- what the pages show, read from the store ----

// The store, opened read-only when first needed and again after it failed (a PostgreSQL server
// that restarted, a state directory created after serve started).
class Views {
 public:
  explicit Views(std::string location) : location_(std::move(location)), shown_(state::masked_location(location_)) {}

  state::RunStore& store() {
    if (!store_) store_ = state::open_store(location_, state::OpenMode::ReadOnly);
    return *store_;
  }
  void forget() { store_.reset(); }
  const std::string& location() const { return shown_; }  // a password in a URL masked

  std::optional<state::RunRecord> find(const std::string& id) {
    return id == "latest" ? store().latest_run() : store().find_run(id);
  }

  json runs() {
    json list = json::array();
    for (const auto& r : store().runs())
      list.push_back({{"id", r.id},
                      {"name", r.name},
                      {"playbook", r.playbook},
                      {"status", state::name(state::shown_status(r))},
                      {"started", r.started},
                      {"finished", r.finished.empty() ? json(nullptr) : json(r.finished)}});
    return list;
  }

  // What a live view needs to redraw: the run's status and each step's; `version` changes
  // whenever any of it does.
  // What the live view shows of a step.
  static json summary(const state::StepRecord& s) {
    return {{"id", s.id},
            {"phase", s.phase},
            {"status", state::name(s.status)},
            {"reason", s.reason},
            {"attempts", s.attempts},
            {"started", s.started},
            {"finished", s.finished},
            {"message", s.message}};
  }

  json live_state(const state::RunRecord& run) {
    json steps = json::array();
    for (const auto& s : store().steps(run.id)) steps.push_back(summary(s));
    json j = {{"run", {{"id", run.id}, {"name", run.name}, {"status", state::name(state::shown_status(run))}}},
              {"steps", steps}};
    std::ostringstream v;
    v << std::hex << std::hash<std::string>{}(j.dump());
    j["version"] = v.str();
    return j;
  }

  // One step: its record, its approval, and the last `lines` lines of each attempt's log.
  std::optional<json> step(const state::RunRecord& run, const std::string& id, std::size_t lines) {
    for (const auto& s : store().steps(run.id)) {
      if (s.id != id) continue;
      json j = summary(s);
      j["step"] = s.step;
      j["exit_code"] = s.exit_code ? json(*s.exit_code) : json(nullptr);
      j["outputs"] = s.outputs;
      if (!s.approved_by.empty())
        j["approval"] = {{"by", s.approved_by},
                         {"host", s.approved_host},
                         {"at", s.approved_at},
                         {"note", s.approval_note},
                         {"automatic", s.auto_approved}};
      json logs = json::array();
      for (const auto& [attempt, text] : store().read_log(run.id, s.id))
        logs.push_back({{"attempt", attempt}, {"tail", view::tail(text, lines)}});
      j["logs"] = logs;
      return j;
    }
    return std::nullopt;
  }

  // The run's graph as SVG (Graphviz), drawn again only when the run changed.
  std::string svg(const state::RunRecord& run, const std::string& version, std::string& note) {
    auto& cached = svgs_[run.id];
    if (cached.version == version && !cached.svg.empty()) {
      note = cached.note;
      return cached.svg;
    }
    auto g = view::run_graph(store(), run, std::string(state::name(state::shown_status(run))));
    std::string svg, error;
    if (!render::render_svg(g.model, svg, error)) throw std::runtime_error(error);
    if (auto start = svg.find("<svg"); start != std::string::npos) svg = svg.substr(start);
    if (svgs_.size() > 32) svgs_.clear();
    svgs_[run.id] = CachedSvg{version, svg, g.note};
    note = g.note;
    return svg;
  }

 private:
  struct CachedSvg {
    std::string version, svg, note;
  };
  std::string location_, shown_;
  std::unique_ptr<state::RunStore> store_;
  std::map<std::string, CachedSvg> svgs_;
};

// ---- requests ----

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded (and '+' as a space in a query); a malformed escape is kept as it is.
std::string percent_decode(std::string_view s, bool query) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += query && s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

struct Target {
  std::vector<std::string> path;  // decoded segments: "/api/runs/x" → {"api", "runs", "x"}
  std::map<std::string, std::string> query;
};

Target parse_target(std::string_view target) {
  Target t;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) t.path.push_back(percent_decode(path.substr(i, j - i), false));
    i = j;
  }
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      auto eq = pair.find('=');
      t.query[percent_decode(pair.substr(0, eq), true)] =
          eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true);
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
  }
  return t;
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.substr(0, name.size()) == name && part.size() > name.size() && part[name.size()] == '=')
      return std::string(part.substr(name.size() + 1));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return "";
}

// Without a token, serve answers only to requests that name it by a loopback name: a web page
// elsewhere cannot reach it by pointing a name of its own at 127.0.0.1 (DNS rebinding).
bool loopback_host(std::string_view host) {
  std::string name;
  if (!host.empty() && host.front() == '[') {
    auto end = host.find(']');
    if (end == std::string_view::npos) return false;
    name = std::string(host.substr(1, end - 1));
  } else {
    name = std::string(host.substr(0, host.find(':')));
  }
  if (name == "localhost") return true;
  boost::system::error_code ec;
  auto a = asio::ip::make_address(name, ec);
  return !ec && a.is_loopback();
}

Response text_response(const Request& req, http::status status, const std::string& content_type, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::server, "relengine");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy",
          "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response json_response(const Request& req, const json& j, http::status status = http::status::ok) {
  return text_response(req, status, "application/json", j.dump(2) + "\n");
}

Response problem(const Request& req, http::status status, const std::string& message) {
  return json_response(req, {{"error", message}}, status);
}

}  // namespace

// ---- the server ----

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io_, const tcp::endpoint& at, Options o)
      : io(io_), acceptor(io_), options(std::move(o)), views(options.store_location) {
    acceptor.open(at.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen(asio::socket_base::max_listen_connections);
  }

  void accept();

  // What a request gets: a response, or (the event stream of a run) nothing yet.
  std::optional<Response> handle(const Request& req, const tcp::endpoint& peer, std::string& stream_run);

  asio::io_context& io;
  tcp::acceptor acceptor;
  Options options;
  Views views;
  std::size_t connections = 0;
  bool stopped = false;
};

namespace {

// One connection: requests read by Beast's parser (bounded in size and time), answered one after
// another; or, for /api/runs/ID/events, a stream of server-sent events until the client leaves.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Server::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)), timer_(server_->io) {
    ++server_->connections;
    boost::system::error_code ec;
    peer_ = stream_.socket().remote_endpoint(ec);
  }
  ~Session() { --server_->connections; }

  void start() { read(); }

  void refuse_busy() {
    Request req;
    req.version(11);
    req.keep_alive(false);
    send(problem(req, http::status::service_unavailable, "too many connections; try again"));
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(0);
    stream_.expires_after(server_->options.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      close();
      return;
    }
    if (ec) {
      // Not HTTP, too large, or a request with a body: answered, then the connection is closed.
      Request req;
      req.version(11);
      req.keep_alive(false);
      send(problem(req, http::status::bad_request, "bad request: " + ec.message()));
      return;
    }
    Request req = parser_->release();
    std::string stream_run;
    std::optional<Response> res;
    try {
      res = server_->handle(req, peer_, stream_run);
    } catch (const std::exception& e) {
      server_->views.forget();
      res = problem(req, http::status::service_unavailable, e.what());
    }
    if (res) {
      send(std::move(*res));
      return;
    }
    start_stream(req, stream_run);
  }

  void send(Response res) {
    auto shared = std::make_shared<Response>(std::move(res));
    stream_.expires_after(server_->options.request_timeout);
    http::async_write(stream_, *shared, [self = shared_from_this(), shared](beast::error_code ec, std::size_t) {
      if (ec || !shared->keep_alive()) {
        self->close();
        return;
      }
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    timer_.cancel();
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  // ---- server-sent events: `state` whenever the run changes, a comment when idle ----

  void start_stream(const Request& req, const std::string& run_id) {
    run_id_ = run_id;
    header_ = std::make_unique<http::response<http::empty_body>>(http::status::ok, req.version());
    header_->set(http::field::server, "relengine");
    header_->set(http::field::content_type, "text/event-stream");
    header_->set(http::field::cache_control, "no-store");
    header_->set("X-Content-Type-Options", "nosniff");
    header_->keep_alive(false);
    serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*header_);
    stream_.expires_after(server_->options.request_timeout);
    http::async_write_header(stream_, *serializer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->watch_hangup();
      self->tick();
    });
  }

  // The client is gone when its side of the connection ends (it sends nothing on a stream).
  void watch_hangup() {
    stream_.socket().async_read_some(asio::buffer(scratch_),
                                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                       if (ec) {
                                         self->gone_ = true;
                                         self->close();
                                         return;
                                       }
                                       self->watch_hangup();
                                     });
  }

  void tick() {
    if (gone_ || server_->stopped) return;
    std::string event;
    try {
      auto run = server_->views.find(run_id_);
      if (!run) {
        event = "event: gone\ndata: {}\n\n";  // the run is no more: said once, then the stream ends
        ending_ = true;
      } else {
        json state = server_->views.live_state(*run);
        if (state["version"] != last_version_) {
          last_version_ = state["version"].get<std::string>();
          event = "event: state\ndata: " + state.dump() + "\n\n";
        }
      }
    } catch (const std::exception& e) {
      server_->views.forget();
      event = "event: problem\ndata: " + json({{"error", e.what()}}).dump() + "\n\n";
    }
    auto now = std::chrono::steady_clock::now();
    if (event.empty() && now - last_sent_ >= server_->options.keep_alive) event = ": keep-alive\n\n";
    if (event.empty()) return schedule();
    last_sent_ = now;
    auto text = std::make_shared<std::string>(std::move(event));
    stream_.expires_after(server_->options.request_timeout);  // a client that stops reading is dropped
    asio::async_write(stream_, asio::buffer(*text),
                      [self = shared_from_this(), text](beast::error_code ec, std::size_t) {
                        if (ec) {
                          self->gone_ = true;
                          return self->close();
                        }
                        self->schedule();
                      });
  }

  void schedule() {
    timer_.expires_after(server_->options.poll);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->tick();
    });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<Server::Impl> server_;
  tcp::endpoint peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  asio::steady_timer timer_;
  std::string run_id_, last_version_;
  std::unique_ptr<http::response<http::empty_body>> header_;
  std::unique_ptr<http::response_serializer<http::empty_body>> serializer_;
  std::array<char, 256> scratch_{};
  bool gone_ = false;
  bool ending_ = false;
  std::chrono::steady_clock::time_point last_sent_ = std::chrono::steady_clock::now();
};

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (!ec) {
      auto session = std::make_shared<Session>(std::move(socket), self);
      if (self->connections > self->options.max_connections)
        session->refuse_busy();
      else
        session->start();
    }
    self->accept();
  });
}

std::optional<Response> Server::Impl::handle(const Request& req, const tcp::endpoint& peer, std::string& stream_run) {
  Target t = parse_target(std::string_view(req.target().data(), req.target().size()));
  // Who may ask: with a token, whoever presents it (a header, the cookie, or ?token= once, which
  // sets the cookie); without one, only loopback clients naming a loopback host.
  bool set_cookie = false;
  if (!options.token.empty()) {
    std::string given;
    std::string_view auth(req[http::field::authorization].data(), req[http::field::authorization].size());
    if (auth.substr(0, 7) == "Bearer ") given = std::string(auth.substr(7));
    if (given.empty())
      given = cookie_value(std::string_view(req[http::field::cookie].data(), req[http::field::cookie].size()),
                           "relengine_token");
    if (given.empty() && t.query.count("token")) {
      given = t.query["token"];
      set_cookie = true;
    }
    if (!same_secret(given, options.token))
      return problem(req, http::status::unauthorized,
                     "this relengine serve needs its token: `Authorization: Bearer TOKEN`, or ?token=TOKEN once");
  } else {
    std::string_view host(req[http::field::host].data(), req[http::field::host].size());
    if (!peer.address().is_loopback() || !loopback_host(host))
      return problem(req, http::status::forbidden,
                     "without --token, relengine serve answers only loopback clients that name a loopback host");
  }
  if (req.method() != http::verb::get)
    return problem(req, http::status::method_not_allowed, "only GET: serve is read-only");

  auto finish = [&](Response res) {
    if (set_cookie)
      res.set(http::field::set_cookie, "relengine_token=" + options.token + "; Path=/; HttpOnly; SameSite=Strict");
    return res;
  };
  const auto& p = t.path;
  auto page = [&](std::string html) {
    return finish(text_response(req, http::status::ok, "text/html; charset=utf-8", std::move(html)));
  };

  if (p.empty()) {
    try {
      return page(runs_page(views.location(), views.runs(), ""));
    } catch (const state::StateError& e) {
      views.forget();
      return page(runs_page(views.location(), json::array(), e.what()));
    }
  }
  if (p.size() == 2 && p[0] == "static" && p[1] == "relengine.js")
    return finish(text_response(req, http::status::ok, "text/javascript; charset=utf-8", script()));
  if (p.size() == 2 && p[0] == "api" && p[1] == "runs") return finish(json_response(req, views.runs()));

  bool api = p.size() >= 3 && p[0] == "api" && p[1] == "runs";
  bool html = p.size() >= 2 && p[0] == "runs";
  if (!api && !html) return problem(req, http::status::not_found, "no such page");
  const std::string& id = api ? p[2] : p[1];
  auto run = views.find(id);
  if (!run) return problem(req, http::status::not_found, "no run '" + id + "' in " + views.location());
  std::vector<std::string> rest(p.begin() + (api ? 3 : 2), p.end());

  if (api) {
    if (rest.empty())
      return finish(json_response(req, view::build_record(views.store(), *run, state::shown_status(*run))));
    if (rest.size() == 1 && rest[0] == "state") return finish(json_response(req, views.live_state(*run)));
    if (rest.size() == 1 && rest[0] == "events") {
      stream_run = run->id;
      return std::nullopt;
    }
    if (rest.size() == 2 && rest[0] == "steps") {
      std::size_t lines = 40;
      if (auto l = t.query.find("lines"); l != t.query.end()) {
        try {
          lines = static_cast<std::size_t>(std::clamp(std::stol(l->second), 1L, 10000L));
        } catch (const std::exception&) {
          return problem(req, http::status::bad_request, "lines: '" + l->second + "' is not a number");
        }
      }
      auto step = views.step(*run, rest[1], lines);
      if (!step) return problem(req, http::status::not_found, "no step '" + rest[1] + "' in run " + run->id);
      return finish(json_response(req, *step));
    }
    return problem(req, http::status::not_found, "no such endpoint");
  }
  json state = views.live_state(*run);
  std::string note;
  if (rest.empty()) {
    std::string svg = views.svg(*run, state["version"].get<std::string>(), note);
    return page(run_page(*run, state, svg, note));
  }
  if (rest.size() == 1 && rest[0] == "graph.svg")
    return finish(text_response(req, http::status::ok, "image/svg+xml",
                                views.svg(*run, state["version"].get<std::string>(), note)));
  if (rest.size() == 1 && rest[0].rfind("report.", 0) == 0) {
    json record = view::build_record(views.store(), *run, state::shown_status(*run));
    if (rest[0] == "report.json") return finish(json_response(req, record));
    if (rest[0] == "report.md")
      return finish(text_response(req, http::status::ok, "text/markdown; charset=utf-8", view::markdown(record)));
    if (rest[0] == "report.html") return page(view::html(record));
  }
  return problem(req, http::status::not_found, "no such page");
}

Server::Server(asio::io_context& io, const tcp::endpoint& at, Options options)
    : impl_(std::make_shared<Impl>(io, at, std::move(options))) {}

Server::~Server() { stop(); }

tcp::endpoint Server::endpoint() const { return impl_->acceptor.local_endpoint(); }

void Server::start() { impl_->accept(); }

void Server::stop() {
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

bool parse_listen(const std::string& text, tcp::endpoint& out, std::string& error) {
  std::string host, port;
  if (!text.empty() && text.front() == '[') {
    auto end = text.find(']');
    if (end == std::string::npos || end + 1 >= text.size() || text[end + 1] != ':') {
      error = "--listen '" + text + "': expected [IPv6]:PORT";
      return false;
    }
    host = text.substr(1, end - 1);
    port = text.substr(end + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      error = "--listen '" + text + "': expected ADDRESS:PORT, e.g. 127.0.0.1:8040";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    error = "--listen '" + text + "': '" + host + "' is not an IP address";
    return false;
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    error = "--listen '" + text + "': '" + port + "' is not a port (0 to 65535)";
    return false;
  }
  out = tcp::endpoint(address, static_cast<unsigned short>(std::stoi(port)));
  return true;
}

}  // namespace relengine::serve
