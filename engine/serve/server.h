// `relengine serve`: a read-only web view of the runs in a store (docs/serve.md). HTTP/1.1 by
// Boost.Beast over Asio, on one thread: the list of runs, a run's step graph coloured by state and
// updated live (server-sent events), a step's attempts, outputs and log tail, the release record,
// and the JSON endpoints under /api/ that the pages use. The store is opened read-only and never
// written; it holds no secret to show.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace relengine::serve {

struct Options {
  std::string store_location;                // a state directory or a postgresql:// URL
  std::string token;                         // "" : no token (only on a loopback address)
  std::chrono::milliseconds poll{500};       // how often a live view looks for changes
  std::chrono::seconds keep_alive{15};       // a comment on an idle event stream
  std::chrono::seconds request_timeout{15};  // to send a whole request (a slow client is dropped)
  std::size_t max_connections = 64;          // more are answered 503 and closed
};

class Server {
 public:
  // Listens on `at` (port 0: any free port). Throws boost::system::system_error when it cannot.
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& at, Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  boost::asio::ip::tcp::endpoint endpoint() const;
  void start();
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// "127.0.0.1:8040", "[::1]:8040", "0.0.0.0:0" → an endpoint; false with a message otherwise.
bool parse_listen(const std::string& text, boost::asio::ip::tcp::endpoint& out, std::string& error);

}  // namespace relengine::serve
