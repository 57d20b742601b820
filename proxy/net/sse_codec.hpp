#pragma once
// Server-Sent Events, `GET /v1/events` (DESIGN §6.1) = a push_session + this codec.
// The response is chunked: the head and `retry:` go out at once, then each §5 frame is
// one event whose one `data:` line is the frame's JSON (compact, so it has no newline),
// with no `event:` field, so `onmessage` sees hello, notifications and reset alike.
// Notifications and a hello that starts at a stream id carry `id:`, so the browser's
// Last-Event-ID resumes exactly there. Keepalive is a `:` comment after 15 s with
// nothing sent; the end is the last chunk. The client sends nothing after its request:
// whatever it does send is dropped unread (bounded), and its EOF ends the session.

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "net/http_util.hpp"
#include "net/push_session.hpp"

namespace cutover::net {

class sse_codec final : public codec {
 public:
  // `cors`: headers of the response head (an allowed cross-origin page's echo).
  sse_codec(std::vector<header> cors, std::chrono::milliseconds retry,
            std::chrono::milliseconds keepalive);

  transport kind() const override { return transport::sse; }
  std::string open() override;
  std::string hello(stream_id cursor, bool at_stream_id,
                    const std::vector<std::string>& topics) override;
  const std::string& notification(const cutover::notification& n) override;
  std::string reset(stream_id oldest) override;
  std::string keepalive() override;
  std::string end(end_reason why, std::uint16_t code, std::string_view text) override;
  void feed(const char*, std::size_t, codec_events&) override {}
  std::chrono::milliseconds keepalive_interval() const override { return keepalive_; }
  bool keepalive_when_idle() const override { return true; }
  std::optional<std::chrono::milliseconds> silence_timeout() const override { return std::nullopt; }

  // The pieces, for tests and the shed answer.
  static std::string head(const std::vector<header>& cors);
  static std::string chunk(std::string_view payload);  // one HTTP/1.1 chunk
  static std::string event(std::optional<stream_id> id, std::string_view json);
  static constexpr std::string_view kLastChunk = "0\r\n\r\n";

 private:
  std::vector<header> cors_;
  std::chrono::milliseconds retry_;
  std::chrono::milliseconds keepalive_;
};

// The whole answer when load is shed: 200, `retry:`, end of stream (never 503, which
// makes EventSource give up for good).
std::string sse_shed_response(const std::vector<header>& cors, std::chrono::milliseconds retry);

// Starts an SSE session on `sh`'s thread over `socket` (identity and cursor checked).
void start_sse(shard& sh, boost::asio::ip::tcp::socket socket, push_identity who,
               std::optional<cursor> since, std::vector<header> cors);

}  // namespace cutover::net
