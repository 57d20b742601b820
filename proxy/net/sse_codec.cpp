#include "net/sse_codec.hpp"

#include <cstdio>

#include "net/push_carrier.hpp"

namespace cutover::net {

sse_codec::sse_codec(std::vector<header> cors, std::chrono::milliseconds retry,
                     std::chrono::milliseconds keepalive)
    : cors_(std::move(cors)), retry_(retry), keepalive_(keepalive) {}

std::string sse_codec::head(const std::vector<header>& cors) {
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n";
  for (const auto& h : cors) {
    out.append(h.name);
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string sse_codec::chunk(std::string_view payload) {
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
  std::string out;
  out.reserve(static_cast<std::size_t>(n) + payload.size() + 2);
  out.append(size, static_cast<std::size_t>(n));
  out.append(payload);
  out += "\r\n";
  return out;
}

std::string sse_codec::event(std::optional<stream_id> id, std::string_view json) {
  std::string out;
  if (id) out += "id: " + id->str() + "\n";
  out += "data: ";
  out.append(json);
  out += "\n\n";
  return out;
}

std::string sse_codec::open() {
  std::string out = head(cors_);
  cors_.clear();
  cors_.shrink_to_fit();
  out += chunk("retry: " + std::to_string(retry_.count()) + "\n\n");
  return out;
}

std::string sse_codec::hello(stream_id cursor, bool at_stream_id,
                             const std::vector<std::string>& topics) {
  return chunk(
      event(at_stream_id ? std::optional(cursor) : std::nullopt, hello_json(cursor, topics)));
}

const std::string& sse_codec::notification(const cutover::notification& n) {
  return n.rendered(wire_slot::sse, [](const cutover::notification& x) {
    return chunk(event(x.id, render_notification_json(x)));
  });
}

std::string sse_codec::reset(stream_id oldest) {
  return chunk(event(std::nullopt, reset_json(oldest)));
}

std::string sse_codec::keepalive() {
  return chunk(":\n");
}

std::string sse_codec::end(end_reason, std::uint16_t, std::string_view) {
  return std::string(kLastChunk);
}

std::string sse_shed_response(const std::vector<header>& cors, std::chrono::milliseconds retry) {
  return sse_codec::head(cors) +
         sse_codec::chunk("retry: " + std::to_string(retry.count()) + "\n\n") +
         std::string(sse_codec::kLastChunk);
}

void start_sse(shard& sh, boost::asio::ip::tcp::socket socket, push_identity who,
               std::optional<cursor> since, std::vector<header> cors) {
  const auto& opt = sh.ctx().opt;
  auto s = std::make_shared<push_session>(
      sh.host(), std::make_unique<socket_carrier>(std::move(socket)),
      std::make_unique<sse_codec>(std::move(cors), opt.sse_retry, opt.sse_keepalive),
      std::move(who));
  s->start(since);
}

}  // namespace cutover::net
