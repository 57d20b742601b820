// Handing a connection to a push session: the WebSocket upgrade (DESIGN §5) and the
// SSE stream (§6.1) with its CORS preflight and load shedding. After the hand-off the
// socket is the push session's and this http_session retires.
#include "net/http_session.hpp"
#include "net/sse_codec.hpp"
#include "net/ws_codec.hpp"
#include "net/ws_protocol.hpp"

namespace cutover::net {
namespace http = boost::beast::http;
namespace asio = boost::asio;

void http_session::serve_upgrade(const auth_outcome& who) {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  const query_params& q = *query_;
  if (req.method() != http::verb::get) return reject(405, "use GET for the WebSocket handshake");
  if (req.version() < 11) return reject(400, "the WebSocket handshake needs HTTP/1.1 (RFC 6455)");
  if (!has_token(std::string_view(req[http::field::connection]), "upgrade") ||
      !iequals(std::string_view(req[http::field::upgrade]), "websocket"))
    return reject(426, "this endpoint speaks WebSocket only (send Upgrade: websocket)");
  auto accept = ws_accept_or_reject();
  if (!accept) return;

  std::optional<cursor> since;
  if (const auto* s = find_param(q, "since")) {
    cursor_error why;
    since = parse_cursor(*s, &why);
    if (!since) return reject(400, why.message);
  }
  std::string leftover = std::move(rx_);
  // This connection is now the WebSocket session's; retire the HTTP side.
  retire_for_handover();
  start_websocket(shard_, std::move(socket_), push_identity{who.user, ctx.topics_for(who.user)},
                  std::move(*accept), since, std::move(leftover));
}

std::optional<std::string> http_session::ws_accept_or_reject() {
  auto& req = parser_->get();
  if (req.version() < 11) {  // /v1/ws checks it first; Socket.IO's upgrade comes here directly
    reject(400, "the WebSocket handshake needs HTTP/1.1 (RFC 6455)");
    return std::nullopt;
  }
  if (std::string_view(req[http::field::sec_websocket_version]) != "13") {
    reject(426, "unsupported Sec-WebSocket-Version (13 is required)");
    return std::nullopt;
  }
  std::string_view key(req[http::field::sec_websocket_key]);
  if (!ws::valid_client_key(key)) {
    reject(400, "missing or malformed Sec-WebSocket-Key (base64 of 16 bytes)");
    return std::nullopt;
  }
  return ws::accept_key(key);
}

std::vector<header> http_session::cors_headers() const {
  if (cors_origin_.empty()) return {};
  return {{"Access-Control-Allow-Origin", cors_origin_},
          {"Access-Control-Allow-Credentials", "true"},
          {"Vary", "Origin"}};
}

void http_session::serve_sse_preflight() {
  auto& req = parser_->get();
  if (req.find(http::field::origin) == req.end())
    return respond(204, "", {{"Allow", "GET, OPTIONS"}}, "");
  if (!origin_allowed()) return;
  auto extra = cors_headers();
  extra.push_back({"Access-Control-Allow-Methods", "GET"});
  extra.push_back({"Access-Control-Allow-Headers", "Last-Event-ID, Authorization, Cache-Control"});
  extra.push_back({"Access-Control-Max-Age", "600"});
  respond(204, "", std::move(extra), "");
}

void http_session::shed_sse() {
  global_metrics().sse_shed.add();
  keep_alive_ = false;
  send(sse_shed_response(cors_headers(), shard_.ctx().opt.sse_retry));
}

void http_session::serve_sse(const auth_outcome& who) {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  if (shutting_down_) return shed_sse();
  // The browser keeps the first URL on reconnect: its Last-Event-ID is the newer cursor.
  std::optional<std::string_view> text;
  if (auto it = req.find("Last-Event-ID"); it != req.end() && !it->value().empty())
    text = std::string_view(it->value());
  else if (const auto* s = find_param(*query_, "since"))
    text = *s;
  std::optional<cursor> since;
  if (text) {
    cursor_error why;
    since = parse_cursor(*text, &why);
    if (!since) return reject(400, why.message);
  }
  auto cors = cors_headers();
  retire_for_handover();
  start_sse(shard_, std::move(socket_), push_identity{who.user, ctx.topics_for(who.user)}, since,
            std::move(cors));
}

}  // namespace cutover::net
