#pragma once
// The HTTP/WebSocket server: N I/O threads (shards), one listening socket, and an
// orderly shutdown (DESIGN §8). Owns no business logic: routes and auth come in
// through the server_context.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "core/result.hpp"
#include "net/context.hpp"
#include "net/shard.hpp"

namespace cutover::net {

// The CPUs this process may run on (taskset/cgroups), at least 1.
unsigned available_cpus();

class server {
 public:
  explicit server(server_context& ctx);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Creates the shards and registers them with the hub as fan-out targets. Call before
  // ingest starts committing.
  void prepare();
  // Binds (SO_REUSEADDR), starts the I/O threads and accepting. Returns the bound port.
  result<std::uint16_t> start();
  // Stops accepting, answers waiting polls, closes WebSockets with 1001, waits up to the
  // grace period for connections to finish, then stops the I/O threads.
  void shutdown();

  std::size_t open_connections() const;

 private:
  shard* shard_of(boost::asio::io_context& io) const;  // the shard whose io_context it is
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  server_context& ctx_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::steady_timer> accept_retry_;
  std::size_t next_shard_ = 0;
  std::atomic<std::size_t> probes_{0};  // health_probe connections open (net/health_reserve)
  bool stopped_ = false;
};

}  // namespace cutover::net
