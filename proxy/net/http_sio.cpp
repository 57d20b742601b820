// Socket.IO requests at /socket.io/ (DESIGN §6.2) as an http_session sees them: Engine.IO's
// checks and refusals, the CORS preflight, the handshake (after identity), polling
// requests handed to their session's thread (net/sio_server.hpp) and answered here, and
// the WebSocket (new, or the upgrade of a polling session) handed over with the socket.
#include "net/http_session.hpp"
#include "net/sio_server.hpp"
#include "net/ws_protocol.hpp"
#include "sio/eio_handshake.hpp"

namespace cutover::net {
namespace http = boost::beast::http;

namespace {

bool wants_upgrade(const http::request<http::string_body>& req) {
  return has_token(std::string_view(req[http::field::connection]), "upgrade") &&
         iequals(std::string_view(req[http::field::upgrade]), "websocket");
}

std::optional<std::string_view> param(const query_params& q, std::string_view name) {
  if (const auto* v = find_param(q, name)) return std::string_view(*v);
  return std::nullopt;
}

}  // namespace

void http_session::sio_refuse(int code) {
  auto e = static_cast<sio::eio_error>(code);
  auto& m = global_metrics();
  if (e == sio::eio_error::session_id_unknown)
    m.sio_unknown_sid.add();
  else
    m.bad_requests.add();
  phase_ = phase::handling;
  respond(sio::eio_error_status(e), sio::eio_error_body(e), {});
}

void http_session::serve_sio_preflight() {
  auto& req = parser_->get();
  if (req.find(http::field::origin) == req.end())
    return respond(204, "", {{"Allow", "GET, POST, OPTIONS"}}, "");
  if (!origin_allowed()) return;
  auto extra = cors_headers();
  extra.push_back({"Access-Control-Allow-Methods", "GET, POST"});
  extra.push_back({"Access-Control-Allow-Headers", "Authorization, Content-Type"});
  extra.push_back({"Access-Control-Max-Age", "600"});
  respond(204, "", std::move(extra), "");
}

void http_session::serve_sio() {
  auto& req = parser_->get();
  const auto& q = *query_;
  bool upgrade = wants_upgrade(req);
  sio::http_method m = req.method() == http::verb::get    ? sio::http_method::get
                       : req.method() == http::verb::post ? sio::http_method::post
                                                          : sio::http_method::other;
  sio::eio_query eq{param(q, "EIO"), param(q, "transport"), param(q, "sid")};
  auto checked = sio::check_request(m, upgrade, eq);
  if (auto* e = std::get_if<sio::eio_error>(&checked)) {
    if (upgrade) keep_alive_ = false;
    return sio_refuse(static_cast<int>(*e));
  }
  auto& r = std::get<sio::eio_request>(checked);
  if (!r.sid) return identify_then(next_step::socketio);  // a handshake: who is it?
  auto conn = shard_.ctx().sio->registry.find(*r.sid);
  if (!conn) {
    if (upgrade) keep_alive_ = false;
    return sio_refuse(static_cast<int>(sio::eio_error::session_id_unknown));
  }
  if (upgrade) {
    if (r.transport != sio::transport::websocket) return sio_refuse(0);
    auto accept = ws_accept_or_reject();
    if (!accept) return;
    std::string leftover = std::move(rx_);
    retire_for_handover();
    sio_websocket_upgrade(conn, std::move(socket_), std::move(*accept), std::move(leftover));
    return;
  }
  sio_poll p;
  p.http = weak_from_this();
  p.from = &shard_;
  p.carrier = shard_.ctx().sio->next_carrier();
  p.post = m == sio::http_method::post;
  if (p.post) p.body = std::move(req.body());
  p.cors = cors_headers();
  sio_wait_ = sio_waiting{conn, p.carrier};
  sio_poll_request(conn, std::move(p));
}

void http_session::serve_sio_after_identity(const auth_outcome& who) {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  sio_start start;
  if (who.ok()) {
    start.user = who.user;
  } else {
    // Token mode with no token here: the CONNECT's auth.token may bring it (DESIGN §6.2).
    credentials cr = request_credentials();
    bool deferred =
        who.status == 401 && ctx.auth->config().mode == auth_mode::token && !find_token(cr);
    if (!deferred) return reject(who.status, who.reason);
  }
  if (const auto* s = find_param(*query_, "since")) {
    cursor_error why;
    start.query_since = parse_cursor(*s, &why);
    if (!start.query_since) return reject(400, why.message);
  }
  if (wants_upgrade(req)) {
    auto accept = ws_accept_or_reject();
    if (!accept) return;
    std::string leftover = std::move(rx_);
    retire_for_handover();
    sio_websocket_new(shard_, *ctx.sio, std::move(socket_), std::move(*accept), std::move(start),
                      std::move(leftover));
    return;
  }
  sio_poll p;
  p.http = weak_from_this();
  p.from = &shard_;
  p.carrier = ctx.sio->next_carrier();
  p.cors = cors_headers();
  std::uint64_t carrier = p.carrier;
  // The session is this thread's; its open packet comes back (posted) through sio_answer.
  auto conn = sio_handshake(shard_, *ctx.sio, std::move(start), std::move(p));
  if (!conn) return reject(503, "too many Socket.IO sessions on this instance, retry");
  sio_wait_ = sio_waiting{std::move(conn), carrier};
}

void http_session::sio_answer(std::uint64_t carrier, int status, std::string_view content_type,
                              std::string body, std::vector<header> cors) {
  if (!sio_wait_ || sio_wait_->carrier != carrier || phase_ != phase::handling) return;
  sio_wait_.reset();
  respond(status, std::move(body), std::move(cors), content_type);
}

}  // namespace cutover::net
