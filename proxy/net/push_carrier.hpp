#pragma once
// The real carrier and host of a push session: a non-blocking TCP socket on one I/O
// thread, and the shard that thread runs (its registry, sweep, scratch buffer and the
// reads of history through net/fetch).

#include <boost/asio/ip/tcp.hpp>

#include "net/push_session.hpp"

namespace cutover::net {

class socket_carrier final : public carrier {
 public:
  explicit socket_carrier(boost::asio::ip::tcp::socket socket);
  void bind(push_session& s, std::uint64_t generation) override;
  std::size_t write(std::span<const boost::asio::const_buffer> bufs, io_status& st) override;
  std::size_t read(std::span<char> into, io_status& st) override;
  void wait_writable() override;
  void wait_readable() override;
  void shutdown_send() override;
  void close() override;

 private:
  boost::asio::ip::tcp::socket socket_;
  push_session* owner_ = nullptr;
  std::uint64_t generation_ = 0;
};

// One per shard (shard::host()).
class shard_host final : public session_host {
 public:
  explicit shard_host(shard& sh);
  const session_limits& limits() const override { return limits_; }
  void subscribe(push_session& s, topic_list topics) override;
  void unsubscribe(push_session& s) override;
  void track(push_session& s) override;
  void untrack(push_session& s) override;
  std::optional<stream_id> head() const override;
  std::optional<fetch_result> fetch(const topic_list& topics, stream_id after, std::size_t limit,
                                    std::function<void(fetch_result)> later,
                                    read_claim_ptr claim) override;
  void read_failed(std::string_view why) override;
  std::span<char> scratch() override;

 private:
  shard& shard_;
  session_limits limits_;
};

}  // namespace cutover::net
