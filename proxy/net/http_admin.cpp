// The server's own small endpoints: /readyz, /metrics, POST /v1/publish (health is one
// line in the dispatch). Members of http_session, on its I/O thread.
#include <openssl/crypto.h>

#include <boost/asio/post.hpp>

#include "core/json_text.hpp"
#include "net/dashboard.hpp"
#include "net/demo.hpp"
#include "net/http_session.hpp"
#include "net/server_render.hpp"

namespace cutover::net {
namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {
std::int64_t unix_seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void http_session::serve_ready() {
  const auto& ctx = shard_.ctx();
  readiness r = ctx.ready ? ctx.ready() : readiness{};
  respond(r.ready ? 200 : 503,
          r.detail.empty() ? std::string(r.ready ? R"({"ready":true})" : R"({"ready":false})")
                           : r.detail,
          {});
}

void http_session::serve_metrics() {
  if (phase_ != phase::handling) return;
  send(make_response(200, "text/plain; version=0.0.4", render_metrics(shard_.ctx()), keep_alive_));
}

bool http_session::publish_allowed() {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  const bool demo = !ctx.auth->config().demo_secret.empty();
  demo_publisher_.clear();
  if (!ctx.publisher || (ctx.admin_token.empty() && !demo)) {
    reject(404, "HTTP publish is off (start serve with --admin-token)", false);
    return false;
  }
  if (req.method() != http::verb::post) {
    reject(405, "use POST");
    return false;
  }
  std::string_view authz(req[http::field::authorization]);
  bool bearer = authz.size() > 7 && authz.substr(0, 7) == "Bearer ";
  if (bearer && !ctx.admin_token.empty() && authz.size() == 7 + ctx.admin_token.size() &&
      CRYPTO_memcmp(authz.data() + 7, ctx.admin_token.data(), ctx.admin_token.size()) == 0)
    return true;
  if (demo && bearer) {
    // --demo: a token /demo/token minted may publish to its own user:<name> (checked once
    // the body names the topic). Ordinary user tokens never publish.
    auto t = ctx.auth->verify_demo(authz.substr(7), unix_seconds_now());
    if (t.ok) {
      demo_publisher_ = std::move(t.user);
      return true;
    }
  }
  reject(401, demo ? "publishing needs Authorization: Bearer <--admin-token> or a /demo/token token"
                   : "publishing needs Authorization: Bearer <--admin-token>");
  return false;
}

void http_session::serve_publish() {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  if (!publish_allowed()) return;
  auto decoded = decode_publish_body(req.body(), ctx.limits);
  if (!decoded.entry) return reject(400, decoded.reason);
  if (!demo_publisher_.empty() && decoded.entry->topic != "user:" + demo_publisher_)
    return reject(403, "a demo user publishes only to its own topic user:" + demo_publisher_);
  bool queued = ctx.publisher->publish(
      std::move(*decoded.entry),
      [self = shared_from_this(), io = &shard_.io()](result<stream_id> id) mutable {
        boost::asio::post(*io, [self = std::move(self), id = std::move(id)]() mutable {
          if (self->phase_ != phase::handling) return;
          if (id) {
            self->respond(202, R"({"id":")" + id->str() + R"("})", {});
          } else {
            global_metrics().overload_rejections.add();
            self->respond(503, json_error_body(503, "not published: " + id.err().message),
                          {{"Retry-After", "1"}});
          }
        });
      });
  if (!queued) reject(503, "publish queue is full, retry");
}

void http_session::serve_demo() {
  auto& req = parser_->get();
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return reject(405, "use GET");
  respond(200, demo_page(),
          {{"Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "connect-src 'self'"},
           {"X-Frame-Options", "DENY"},
           {"Cache-Control", "no-store"}},
          "text/html; charset=utf-8");
}

void http_session::serve_demo_token() {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  if (req.method() != http::verb::get) return reject(405, "use GET");
  // Only a page this machine names as its own: another site whose name resolves to
  // 127.0.0.1 (DNS rebinding) would otherwise read a token.
  if (!loopback_host_header(std::string_view(req[http::field::host])))
    return reject(403, "demo tokens are for pages on 127.0.0.1, [::1] or localhost");
  const std::string* user = find_param(*query_, "user");
  if (auto why = demo_user_problem(user ? *user : std::string_view())) return reject(400, *why);
  if (!demo_mint_allowed()) {
    global_metrics().overload_rejections.add();
    return respond(429, json_error_body(429, "too many demo tokens this second; retry"),
                   {{"Retry-After", "1"}});
  }
  auto now = unix_seconds_now();
  std::string token = mint_token(ctx.auth->config().demo_secret, *user, kDemoTokenTtl, now);
  // The poll loop starts after the newest id now: nothing published after the page has
  // its token is missed, whichever request reaches the server first.
  auto h = head();
  std::string poll_path = ctx.routes.empty() ? std::string() : ctx.routes.begin()->first;
  respond(200,
          "{\"user\":" + json_text::quoted(*user) +
              ",\"topic\":" + json_text::quoted("user:" + *user) + ",\"token\":\"" + token +
              "\",\"expires_in\":" + std::to_string(kDemoTokenTtl.count()) + ",\"cursor\":\"" +
              (h ? h->str() : std::string("0")) +
              "\",\"poll_path\":" + json_text::quoted(poll_path) + "}",
          {{"Cache-Control", "no-store"}});
}

void http_session::serve_dashboard() {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return reject(405, "use GET");
  if (const auto* tok = find_param(*query_, "token")) {
    // ?token= sets the cookie and sends the browser to the URL without it (no token left in
    // history, logs or Referer).
    if (!dashboard_authorized(ctx.admin_token, "Bearer " + *tok, ""))
      return reject(401, "the dashboard needs the admin token");
    return respond(303, "",
                   {{"Location", "/dashboard"},
                    {"Set-Cookie", std::string(kDashboardCookie) + "=" + *tok +
                                       "; Path=/dashboard; HttpOnly; SameSite=Strict"}},
                   "");
  }
  if (!dashboard_authorized(ctx.admin_token, std::string_view(req[http::field::authorization]),
                            std::string_view(req[http::field::cookie])))
    return reject(401, "the dashboard needs the admin token (Authorization: Bearer, or ?token=)");
  respond(200, dashboard_page(),
          {{"Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "connect-src 'self'; img-src 'self'"},
           {"X-Frame-Options", "DENY"}},
          "text/html; charset=utf-8");
}

void http_session::serve_dashboard_events() {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  if (req.method() != http::verb::get) return reject(405, "use GET");
  if (!dashboard_authorized(ctx.admin_token, std::string_view(req[http::field::authorization]),
                            std::string_view(req[http::field::cookie])))
    return reject(401, "the dashboard feed needs the admin token");
  if (shutting_down_) return reject(503, "shutting down");
  // The feed counts itself; this connection retires once the socket is handed over.
  global_metrics().connections[static_cast<std::size_t>(counted_as_)].add(-1);
  if (!start_dashboard_feed(shard_, socket_)) {
    global_metrics().connections[static_cast<std::size_t>(counted_as_)].add(1);
    return reject(503, "too many dashboard viewers on this instance");
  }
  phase_ = phase::closed;
  shard_.untrack(*this);
}

}  // namespace cutover::net
