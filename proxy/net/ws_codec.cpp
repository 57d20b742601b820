#include "net/ws_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "net/push_carrier.hpp"

namespace cutover::net {

namespace {
std::string text_frame(std::string_view json) {
  return make_ws_frame(0x1, json);
}
}  // namespace

ws_codec::ws_codec(std::string accept_key, std::size_t max_message,
                   std::chrono::milliseconds ping_interval,
                   std::chrono::milliseconds silence_timeout)
    : accept_key_(std::move(accept_key)),
      parser_(max_message),
      ping_interval_(ping_interval),
      silence_(silence_timeout) {}

std::string ws_codec::open() {
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      accept_key_ + "\r\n\r\n";
  accept_key_.clear();
  accept_key_.shrink_to_fit();
  return out;
}

std::string ws_codec::hello(stream_id cursor, bool, const std::vector<std::string>& topics) {
  return text_frame(hello_json(cursor, topics));
}

const std::string& ws_codec::notification(const cutover::notification& n) {
  return ws_frame(n);
}

std::string ws_codec::reset(stream_id oldest) {
  return text_frame(reset_json(oldest));
}

std::string ws_codec::keepalive() {
  return make_ws_frame(0x9, "");
}

std::string ws_codec::end(end_reason why, std::uint16_t code, std::string_view text) {
  switch (why) {
    case end_reason::peer_closed:
      break;  // echo the peer's code
    case end_reason::protocol:
      break;
    case end_reason::stalled:
      code = ws::close_code::try_again_later;
      break;
    case end_reason::idle:
    case end_reason::shutdown:
      code = ws::close_code::going_away;
      break;
  }
  return ws::close_frame(code, text);
}

void ws_codec::feed(const char* data, std::size_t n, codec_events& ev) {
  auto res = parser_.feed(data, n, [&ev](ws::opcode op, std::string_view payload) {
    switch (op) {
      case ws::opcode::text:
        if (!ev.closing()) handle_text(payload, ev);
        break;
      case ws::opcode::binary:
        if (!ev.closing()) {
          global_metrics().ws_client_errors.add();
          ev.reply(
              text_frame(error_json("binary frames are not supported; send JSON text frames")));
        }
        break;
      case ws::opcode::ping:
        ev.reply(make_ws_frame(0xA, payload));
        break;
      case ws::opcode::pong:
      case ws::opcode::continuation:
        break;
      case ws::opcode::close:
        // Echo the peer's code (1000 when it gave none), then close.
        ev.peer_closing(payload.size() >= 2 ? static_cast<std::uint16_t>(
                                                  (static_cast<unsigned char>(payload[0]) << 8) |
                                                  static_cast<unsigned char>(payload[1]))
                                            : ws::close_code::normal);
        break;
    }
  });
  if (res.close) ev.violation(res.close, res.reason);
}

void ws_codec::handle_text(std::string_view text, codec_events& ev) {
  auto error = [&ev](std::string_view message) {
    global_metrics().ws_client_errors.add();
    ev.reply(text_frame(error_json(message)));
  };
  boost::json::error_code ec;
  auto v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  const boost::json::object* o = (!ec && v.is_object()) ? &v.get_object() : nullptr;
  const auto* type = o ? o->if_contains("type") : nullptr;
  if (!type || !type->is_string() || type->get_string() != "resume")
    return error(R"(unknown message; expected {"type":"resume","since":"<id or legacyId>"})");
  const auto* since = o->if_contains("since");
  std::string since_text;
  if (since && since->is_string())
    since_text = std::string(since->get_string());
  else if (since && (since->is_uint64() || (since->is_int64() && since->get_int64() >= 0)))
    since_text = since->is_uint64() ? std::to_string(since->get_uint64())
                                    : std::to_string(since->get_int64());
  else
    return error("resume needs a since (a stream id string or a legacyId)");
  cursor_error why;
  auto c = parse_cursor(since_text, &why);
  if (!c) return error(why.message);
  ev.resume(*c);
}

void start_websocket(shard& sh, boost::asio::ip::tcp::socket socket, push_identity who,
                     std::string accept_key, std::optional<cursor> since, std::string leftover) {
  const auto& opt = sh.ctx().opt;
  auto s = std::make_shared<push_session>(
      sh.host(), std::make_unique<socket_carrier>(std::move(socket)),
      std::make_unique<ws_codec>(std::move(accept_key), opt.max_ws_message, opt.ws_ping_interval,
                                 opt.ws_silence_timeout),
      std::move(who));
  s->start(since, leftover);
}

}  // namespace cutover::net
