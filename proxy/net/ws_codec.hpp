#pragma once
// The WebSocket endpoint (DESIGN §5) = a push_session + this codec: the 101 response,
// §5 frames as text frames (each notification's frame rendered once, shared by every
// recipient), pings as keepalive, close frames as the end, and client frames parsed by
// ws::frame_parser (resume, errors answered in-band, ping/pong, close, violations).

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "net/push_session.hpp"
#include "net/ws_protocol.hpp"

namespace cutover::net {

class ws_codec final : public codec {
 public:
  ws_codec(std::string accept_key, std::size_t max_message, std::chrono::milliseconds ping_interval,
           std::chrono::milliseconds silence_timeout);

  transport kind() const override { return transport::websocket; }
  std::string open() override;
  std::string hello(stream_id cursor, bool at_stream_id,
                    const std::vector<std::string>& topics) override;
  const std::string& notification(const cutover::notification& n) override;
  std::string reset(stream_id oldest) override;
  std::string keepalive() override;
  std::string end(end_reason why, std::uint16_t code, std::string_view text) override;
  void feed(const char* data, std::size_t n, codec_events& ev) override;
  std::chrono::milliseconds keepalive_interval() const override { return ping_interval_; }
  bool keepalive_when_idle() const override { return false; }
  std::optional<std::chrono::milliseconds> silence_timeout() const override { return silence_; }

  // A client text message (JSON): resume, or an error frame back. Public for tests.
  static void handle_text(std::string_view text, codec_events& ev);

 private:
  std::string accept_key_;
  ws::frame_parser parser_;
  std::chrono::milliseconds ping_interval_;
  std::chrono::milliseconds silence_;
};

// Starts a WebSocket session on `sh`'s thread over `socket` (handshake already checked).
void start_websocket(shard& sh, boost::asio::ip::tcp::socket socket, push_identity who,
                     std::string accept_key, std::optional<cursor> since, std::string leftover);

}  // namespace cutover::net
