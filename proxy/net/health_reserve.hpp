#pragma once
// Connections accepted past --max-connections, for health checks only (DESIGN §11, "Health
// checks at the connection limit"): at most --health-reserve of them at once, each with one
// request head of at most 4 KiB read within one second (the shard's sweep, so closed within
// two), answered and closed. GET/HEAD /healthz is answered 200 as usual; /readyz is 503
// "at_limit" (a balancer should send new clients elsewhere); anything else, and a probe that
// does not finish its head in time, gets the same 503 as every connection past the limit.
// Lives on the socket's shard; `in_use` (the server's count) is touched from any shard.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "net/http_framing.hpp"
#include "net/shard.hpp"

namespace cutover::net {

// The 503 every connection past --max-connections gets (also from the acceptor).
const std::string& busy_response();

class health_probe final : public connection_base,
                           public std::enable_shared_from_this<health_probe> {
 public:
  // `in_use` was incremented by the acceptor for this probe; the probe gives it back.
  health_probe(shard& sh, boost::asio::ip::tcp::socket socket, std::atomic<std::size_t>& in_use);
  ~health_probe();

  void start();  // on the shard's thread

  void on_tick(clock::time_point now) override;
  void on_shutdown() override { finish(busy_response()); }

 private:
  void arm_read();
  void on_readable(boost::system::error_code ec);
  void answer();                          // the head is complete
  void finish(const std::string& reply);  // writes what fits at once, then closes

  shard& shard_;
  boost::asio::ip::tcp::socket socket_;
  std::atomic<std::size_t>& in_use_;
  std::unique_ptr<request_parser> parser_;
  std::string head_;  // bytes of the head the parser has not taken yet (at most 4 KiB)
  bool header_seen_ = false;
  bool closed_ = false;
  clock::time_point deadline_{};
};

}  // namespace cutover::net
