// `relengine serve`: the read-only web view of a store (serve/server, docs/serve.md), until
// SIGINT or SIGTERM.
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "cli/commands.h"
#include "serve/server.h"
#include "state/pg_store.h"

namespace relengine::cli {

int cmd_serve(const GlobalOptions& g, const ServeOptions& options) {
  boost::asio::ip::tcp::endpoint at;
  std::string error;
  if (!serve::parse_listen(options.listen, at, error)) {
    std::cerr << "relengine: serve " << error << "\n";
    return kBadInput;
  }
  // Off loopback the view is readable by anyone who can reach the address: a token is required.
  bool loopback = at.address().is_v4() ? at.address().to_v4() == boost::asio::ip::address_v4::loopback()
                                       : at.address().is_loopback();
  if (!loopback && options.token.empty()) {
    std::cerr << "relengine: serve --listen " << options.listen
              << ": off 127.0.0.1 and ::1 a token is required (--token, or RELENGINE_SERVE_TOKEN)\n";
    return kBadInput;
  }
  serve::Options o;
  o.store_location = g.state_dir;
  o.token = options.token;
  boost::asio::io_context io;
  std::unique_ptr<serve::Server> server;
  try {
    server = std::make_unique<serve::Server>(io, at, o);
  } catch (const boost::system::system_error& e) {
    std::cerr << "relengine: serve: cannot listen on " << options.listen << ": " << e.code().message() << "\n";
    return kBadInput;
  }
  auto bound = server->endpoint();
  std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
  std::cout << "relengine serve: http://" << host << ":" << bound.port() << "/ (runs in "
            << state::masked_location(g.state_dir) << ", read-only" << (o.token.empty() ? "" : ", token required")
            << "; Ctrl-C stops)" << std::endl;
  server->start();
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server->stop();
    io.stop();
  });
  io.run();
  return kOk;
}

}  // namespace relengine::cli
