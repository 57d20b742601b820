// One HTTP/1.1 connection: reading and parsing requests, dispatch on the route table,
// identity, answering and closing. The handlers live next door: http_admin.cpp,
// http_upstream.cpp, http_push.cpp (WebSocket and SSE hand-off), http_hold.cpp (the
// long-poll hold).
#include "net/http_session.hpp"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdio>

#include "net/sio_server.hpp"
#include "net/user_activity.hpp"

namespace cutover::net {
namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {

// A streamed pass-through body (DESIGN §8) waits in a pipe of this size for the upstream
// worker. What it holds at most is what it takes of --body-budget-mb, not its length: the
// pipe and one read past it (the shard's 64 KiB scratch), and as much again in the piece the
// worker is writing.
constexpr std::size_t kStreamPipe = 64 * 1024;
constexpr std::size_t kStreamHold = 2 * (kStreamPipe + 64 * 1024);

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// DESIGN §7: an identity header sent twice lets whoever sent the first one choose (a
// gateway that appends its header after the client's). Returns the header's name, or "".
std::string repeated_identity_header(const http::fields& req, std::string_view gateway) {
  if (!gateway.empty() && req.count(gateway) > 1) return std::string(gateway);
  if (req.count(http::field::authorization) > 1) return "Authorization";
  return {};
}

}  // namespace

http_session::http_session(shard& sh, asio::ip::tcp::socket socket)
    : shard_(sh), socket_(std::move(socket)) {}

http_session::~http_session() {
  // Normally close() already did this; a session destroyed with the io_context at exit
  // still must not leave a dangling pointer behind.
  release_body();
  if (stream_) stream_->abort();
  if (phase_ != phase::closed) {
    if (wait_) wait_cancel();
    shard_.untrack(*this);
    global_metrics().connections[static_cast<std::size_t>(counted_as_)].add(-1);
  }
}

void http_session::start() {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    auto a = ep.address();
    if (a.is_v4()) {
      peer_[10] = peer_[11] = 0xFF;
      auto b = a.to_v4().to_bytes();
      std::copy(b.begin(), b.end(), peer_.begin() + 12);
    } else {
      auto b = a.to_v6().to_bytes();
      std::copy(b.begin(), b.end(), peer_.begin());
    }
  }
  shard_.track(*this);
  global_metrics().connections[static_cast<std::size_t>(counted_as_)].add(1);
  deadline_ = clock::now() + shard_.ctx().opt.idle_timeout;
  arm_read();
}

void http_session::arm_read() {
  if (read_armed_ || read_paused_ || phase_ == phase::closed) return;
  read_armed_ = true;
  socket_.async_wait(
      asio::ip::tcp::socket::wait_read,
      [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
}

void http_session::on_readable(boost::system::error_code ec) {
  read_armed_ = false;
  if (phase_ == phase::closed) return;
  if (ec) return close();
  const auto& opt = shard_.ctx().opt;
  auto buf = shard_.scratch();
  while (true) {
    boost::system::error_code rec;
    std::size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) break;
    if (rec) return close();  // the client went away (a waiting poll is dropped with it)
    if (phase_ == phase::idle || phase_ == phase::reading) {
      if (!consume(buf.data(), n)) return;
      if (read_paused_) return;  // a streamed body's pipe is full
    } else {
      // A request is in progress: keep pipelined bytes for later, at most a header's worth;
      // a body is read only once its own header is judged (on_header) and counted.
      rx_.append(buf.data(), n);
      if (rx_.size() > opt.max_header_bytes) {
        read_paused_ = true;
        return;
      }
    }
    if (n < buf.size()) break;
  }
  arm_read();
}

bool http_session::consume(const char* data, std::size_t n) {
  const auto& opt = shard_.ctx().opt;
  if (!parser_) {
    parser_ = new_request_parser(opt.max_header_bytes, opt.max_body_bytes);
    header_checked_ = false;
    phase_ = phase::reading;
    deadline_ = clock::now() + opt.header_timeout;
  }
  bool from_rx = !rx_.empty();
  if (from_rx) rx_.append(data, n);
  std::string_view in = from_rx ? std::string_view(rx_) : std::string_view(data, n);
  std::size_t used = 0;
  boost::beast::error_code ec;
  bool answered = false;
  while (true) {
    auto st = parse_some(*parser_, in.substr(used), header_checked_);
    used += st.used;
    ec = st.ec;
    if (st.stop != parse_stop::header) break;
    if (!on_header()) {  // on_header() decides whether the body is read at all
      answered = true;
      break;
    }
  }
  if (answered) {  // refused (the connection closes after the answer): the rest is not read
    rx_.clear();
    rx_.shrink_to_fit();
    return phase_ != phase::closed;
  }
  if (from_rx)
    rx_.erase(0, used);
  else
    rx_.assign(in.data() + used, in.size() - used);
  if (rx_.empty()) rx_.shrink_to_fit();

  if (ec) {
    keep_alive_ = false;
    if (ec == http::error::header_limit)
      reject(431,
             "request headers are larger than " + std::to_string(opt.max_header_bytes) + " bytes");
    else if (ec == http::error::body_limit)
      reject(413, "request body is larger than " + std::to_string(opt.max_body_bytes) + " bytes");
    else
      reject(400, "malformed HTTP request: " + ec.message());
    return phase_ != phase::closed;
  }
  if (stream_) return stream_body();
  if (header_checked_ && !reserve_body(parser_->get().body().size()))
    return phase_ != phase::closed;  // a chunked body grew past the shared budget
  if (parser_->is_done()) {
    dispatch();
    return phase_ != phase::closed;
  }
  return true;
}

bool http_session::on_header() {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  head_request_ = req.method() == http::verb::head;
  if (auto bad = framing_of(*parser_)) {
    keep_alive_ = false;
    reject(bad->status, bad->message);
    return false;
  }
  std::string_view expect(req[http::field::expect]);
  if (req.count(http::field::expect) > 1 || (!expect.empty() && !iequals(expect, "100-continue"))) {
    keep_alive_ = false;
    reject(417, "the only expectation understood is Expect: 100-continue");
    return false;
  }
  if (parser_->is_done()) return true;  // no body: dispatched as usual
  if (auto twice = repeated_identity_header(req.base(), ctx.auth->config().header_name);
      !twice.empty()) {  // as dispatch() answers it, before the body is read
    keep_alive_ = false;
    reject(400, twice + " sent more than once: an identity header must appear once");
    return false;
  }

  // A body follows. Only three kinds of request take one: POST /v1/publish, read once the
  // admin token is checked, Socket.IO polling POSTs (bounded by the Engine.IO payload cap
  // and the budget), and pass-through, whose body the upstream judges. Nothing
  // else buffers a byte of it: answered, and the connection closes unread.
  std::string_view target(req.target().data(), req.target().size());
  const route_entry* e = ctx.table.find(target.substr(0, target.find('?')));
  bool takes_body = e ? e->kind == route_kind::publish || e->kind == route_kind::socketio
                      : ctx.upstream != nullptr;
  if (!takes_body) {
    keep_alive_ = false;
    if (!e)
      reject(404, "no such endpoint", false);
    else
      reject(400, "this endpoint takes no request body");
    return false;
  }
  keep_alive_ = false;  // a refusal closes: the body it announced is never read
  if (e && e->kind == route_kind::publish && !publish_allowed()) return false;
  keep_alive_ = true;       // dispatch() decides
  const bool streams = !e;  // pass-through: the body goes on to the upstream as it comes
  auto len = parser_->content_length();
  // A streamed body holds at most the pipe and one read at a time, whatever its length.
  std::size_t hold = len ? static_cast<std::size_t>(*len) : 0;
  if (streams) hold = std::min<std::size_t>(len ? hold : SIZE_MAX, kStreamHold);
  if (hold && !reserve_body(hold)) return false;
  if (!expect.empty()) {
    // RFC 9110 §10.1.1: the client waits for this before sending the body. A 25-byte
    // write to an idle socket; if even that would block, the client sends after its
    // own timeout, as it did before.
    static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
    boost::system::error_code ec;
    socket_.write_some(asio::buffer(cont.data(), cont.size()), ec);
  }
  if (streams) {
    // From here on the body's own deadlines replace the header's (DESIGN §11): bytes within
    // --body-idle-timeout of each other, all of them within --body-timeout.
    const auto now = clock::now();
    body_cap_ = now + ctx.opt.body_timeout;
    deadline_ = std::min(now + ctx.opt.body_idle_timeout, body_cap_);
    auto pipe = std::make_shared<body_pipe>(kStreamPipe, ctx.opt.body_idle_timeout, body_cap_);
    pipe->set_on_room([w = weak_from_this(), io = &shard_.io()] {
      asio::post(*io, [w] {
        if (auto self = w.lock()) self->stream_room();
      });
    });
    if (!serve_upstream(pipe)) return false;
  }
  return true;
}

bool http_session::stream_body() {
  auto& b = parser_->get().body();
  if (!b.empty()) {
    body_progress();
    if (!stream_->put(b)) read_paused_ = true;  // until the worker took them
    std::string().swap(b);                      // the pipe has them: keep no second copy
  }
  if (!parser_->is_done()) return true;
  // The whole body is on its way: now the answer is awaited as for any pass-through.
  stream_->finish();
  keep_alive_ = parser_->get().keep_alive() && !shutting_down_;
  phase_ = phase::handling;
  release_request();
  return true;
}

void http_session::stream_room() {
  if (!stream_ || phase_ != phase::reading || !read_paused_) return;
  read_paused_ = false;
  body_progress();  // the pause was the upstream's: the client's idle time starts now
  arm_read();
}

void http_session::body_progress() {
  deadline_ = std::min(clock::now() + shard_.ctx().opt.body_idle_timeout, body_cap_);
}

void http_session::body_timed_out() {
  const bool whole = clock::now() >= body_cap_;
  global_metrics().body_timeouts[whole ? 1 : 0].add();
  keep_alive_ = false;
  parser_.reset();
  reject(408,
         whole ? "request body not complete within --body-timeout"
               : "request body stalled: no bytes of it for --body-idle-timeout",
         false);
}

void http_session::end_stream() {
  if (!stream_) return;
  stream_->abort();
  stream_.reset();
  keep_alive_ = false;  // the rest of the body is never read: the connection cannot go on
}

bool http_session::reserve_body(std::size_t total) {
  if (total <= body_reserved_) return true;
  const auto& ctx = shard_.ctx();
  if (!ctx.request_bodies.take(total - body_reserved_, ctx.opt.max_body_total)) {
    global_metrics().body_budget_refusals.add();
    keep_alive_ = false;
    reject(503, "too many request bodies are being read at once; retry");
    return false;
  }
  body_reserved_ = total;
  return true;
}

void http_session::release_body() {
  if (body_reserved_ == 0) return;
  shard_.ctx().request_bodies.give(body_reserved_);
  body_reserved_ = 0;
}

void http_session::reject(int status, std::string_view message, bool count_bad) {
  end_stream();
  auto& m = global_metrics();
  if (count_bad && status == 400) m.bad_requests.add();
  if (status == 401) m.unauthorized.add();
  if (status == 503) m.overload_rejections.add();
  if (status == 431 || status == 413 || status == 408) m.bad_requests.add();
  phase_ = phase::handling;
  std::vector<header> extra;
  if (status == 503) extra.push_back({"Retry-After", "1"});
  if (status == 426) extra.push_back({"Sec-WebSocket-Version", "13"});
  respond(status, json_error_body(status, message), std::move(extra));
}

void http_session::dispatch() {
  const auto& ctx = shard_.ctx();
  phase_ = phase::handling;
  auto& req = parser_->get();
  keep_alive_ = req.keep_alive() && !shutting_down_;
  head_request_ = req.method() == http::verb::head;
  std::string_view target(req.target().data(), req.target().size());
  auto qmark = target.find('?');
  std::string_view path = target.substr(0, qmark);
  std::string_view query =
      qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);

  const route_entry* e = ctx.table.find(path);
  if (auto twice = repeated_identity_header(req.base(), ctx.auth->config().header_name);
      !twice.empty()) {
    keep_alive_ = false;
    reject(400, twice + " sent more than once: an identity header must appear once");
  } else if (!e) {
    if (ctx.upstream)
      serve_upstream();
    else
      reject(404, "no such endpoint", false);
  } else if (!(query_ = parse_query(query))) {
    reject(400,
           "malformed query string (bad percent-escape, not UTF-8, or more than 64 parameters)");
  } else if (e->kind == route_kind::events && req.method() == http::verb::options) {
    serve_sse_preflight();
  } else if (e->kind == route_kind::socketio && req.method() == http::verb::options) {
    serve_sio_preflight();
  } else if (e->kind == route_kind::events && req.method() != http::verb::get) {
    reject(405, "use GET for the event stream");
  } else if (e->kind == route_kind::app && req.method() != e->app->method() &&
             !(head_request_ && e->app->method() == http::verb::get)) {
    reject(405, "use " + std::string(http::to_string(e->app->method())));
  } else if (e->browser && !origin_allowed()) {
    // Answered 403 before identity: a page of another site never gets a who-am-I lookup.
  } else {
    switch (e->kind) {
      case route_kind::health:
        respond(200, R"({"status":"ok"})", {});
        break;
      case route_kind::ready:
        serve_ready();
        break;
      case route_kind::metrics:
        serve_metrics();
        break;
      case route_kind::publish:
        serve_publish();
        break;
      case route_kind::dashboard:
        serve_dashboard();
        break;
      case route_kind::dashboard_events:
        serve_dashboard_events();
        if (phase_ == phase::closed) return;  // the socket belongs to the feed
        break;
      case route_kind::demo:
        serve_demo();
        break;
      case route_kind::demo_token:
        serve_demo_token();
        break;
      case route_kind::websocket:
        return identify_then(next_step::websocket);
      case route_kind::events:
        return identify_then(next_step::sse);
      case route_kind::socketio:
        serve_sio();
        if (phase_ == phase::closed) return;  // upgraded: the socket is the session's
        break;
      case route_kind::app:
        route_ = e->app;
        return identify_then(next_step::route);
    }
  }
  if (phase_ != phase::closed) release_request();
}

bool http_session::origin_allowed() {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  std::optional<std::string_view> origin;
  if (auto it = req.find(http::field::origin); it != req.end())
    origin = std::string_view(it->value());
  std::optional<std::string_view> proto;
  if (auto it = req.find("X-Forwarded-Proto"); it != req.end() && ctx.trusted(peer_))
    proto = std::string_view(it->value());
  auto v = ctx.origins.check(origin, std::string_view(req[http::field::host]), proto);
  if (v == origin_verdict::allowed) cors_origin_ = std::string(*origin);
  if (v != origin_verdict::refused) return true;
  global_metrics().origin_refusals.add();
  reject(403, "origin '" + std::string(origin.value_or("")) +
                  "' may not use this endpoint (same origin only, or --allow-origin)");
  return false;
}

void http_session::release_request() {
  cors_origin_.clear();
  parser_.reset();
  query_.reset();
  route_ = nullptr;
  if (phase_ != phase::closed) arm_read();  // notice the client leaving; buffer pipelined bytes
}

credentials http_session::request_credentials() const {
  const auto& ctx = shard_.ctx();
  auto& req = parser_->get();
  credentials cr;
  cr.authorization = std::string_view(req[http::field::authorization]);
  cr.cookie = std::string_view(req[http::field::cookie]);
  cr.query = &*query_;
  if (!ctx.auth->config().header_name.empty()) {
    auto it = req.find(ctx.auth->config().header_name);
    cr.has_gateway_header = it != req.end();
    if (cr.has_gateway_header) cr.gateway_header = std::string_view(it->value());
  }
  cr.peer = peer_;
  return cr;
}

void http_session::identify_then(next_step t) {
  const auto& ctx = shard_.ctx();
  credentials cr = request_credentials();
  if (ctx.auth->config().mode != auth_mode::upstream)
    return after_identity(t, ctx.auth->identify(cr, unix_now()));
  if (auto hit = ctx.upstream_identity->cached(cr.cookie, cr.authorization))
    return after_identity(t, std::move(*hit));
  // Ask the legacy app; meanwhile keep watching the socket (the client may leave).
  arm_read();
  ctx.upstream_identity->lookup(
      cr.cookie, cr.authorization,
      [self = shared_from_this(), t, io = &shard_.io()](auth_outcome o) mutable {
        boost::asio::post(*io, [self = std::move(self), t, o = std::move(o)]() mutable {
          self->after_identity(t, std::move(o));
        });
      });
}

void http_session::after_identity(next_step t, auth_outcome who) {
  if (phase_ != phase::handling || !parser_) return;  // the client left meanwhile
  const auto& ctx = shard_.ctx();
  if (!who.ok() && t == next_step::route) {
    // The legacy endpoint answers a refusal in its own format (its profile's).
    if (who.status == 401) global_metrics().unauthorized.add();
    if (who.status == 503) global_metrics().overload_rejections.add();
    route_->refused(who.status, who.reason, *this);
  } else if (t == next_step::socketio) {
    serve_sio_after_identity(who);  // refusals are its own (a token may come in auth)
    if (phase_ == phase::closed) return;
  } else if (!who.ok() && t == next_step::sse && who.status == 503) {
    shed_sse();  // the auth backend is down: EventSource must retry, not give up
  } else if (!who.ok()) {
    reject(who.status, who.reason);
  } else if (t == next_step::sse) {
    serve_sse(who);
    if (phase_ == phase::closed) return;  // the socket belongs to the SSE session
  } else if (t == next_step::websocket) {
    serve_upgrade(who);
    if (phase_ == phase::closed) return;  // upgraded: the socket belongs to the WebSocket session
  } else {
    if (!caller_ || caller_->user != who.user) caller_ = caller{who.user, ctx.topics_for(who.user)};
    serve_route();
  }
  if (phase_ != phase::closed) release_request();
}

void http_session::serve_route() {
  auto& m = global_metrics();
  const transport t = route_->counted_as();  // a page is not long-poll traffic
  if (counted_as_ != t) {
    m.connections[static_cast<std::size_t>(counted_as_)].add(-1);
    counted_as_ = t;
    m.connections[static_cast<std::size_t>(counted_as_)].add(1);
  }
  if (t != transport::http) {
    m.requests[static_cast<std::size_t>(t)].add();
    global_user_activity().seen(t, caller_->user);
  }
  auto& req = parser_->get();
  std::string_view target(req.target().data(), req.target().size());
  request_view view{req.method(), target, target.substr(0, target.find('?')), *query_, req.base()};
  route_->handle(view, *caller_, *this);
}

void http_session::respond(int status, std::string body, std::vector<header> extra,
                           std::string_view content_type) {
  if (phase_ != phase::handling) return;
  if (shutting_down_) keep_alive_ = false;
  if (!cors_origin_.empty())
    for (auto& h : cors_headers())
      if (std::none_of(extra.begin(), extra.end(),
                       [&](const header& e) { return e.name == h.name; }))
        extra.push_back(std::move(h));
  std::string out = make_response(status, content_type, body, keep_alive_, extra);
  if (head_request_) out.resize(out.size() - body.size());  // the GET's header, no body
  send(std::move(out));
}

void route::refused(int status, std::string_view reason, exchange& ex) {
  ex.respond(status, json_error_body(status, reason),
             status == 503 ? std::vector<header>{{"Retry-After", "1"}} : std::vector<header>{});
}

std::optional<stream_id> http_session::head() const {
  return shard_.ctx().hub_->head();
}

void http_session::delivering(std::span<const notification_ptr> sent) {
  delivering_ms_.clear();
  for (const auto& n : sent) delivering_ms_.push_back(n->id.ms);
}

void http_session::send(std::string bytes) {
  release_body();
  parser_.reset();  // the answer is out: the request's parsed form is not needed
  query_.reset();
  phase_ = phase::writing;
  deadline_ = clock::now() + shard_.ctx().opt.stall_timeout;
  // Most answers fit the socket buffer: one non-blocking write, no async operation.
  boost::system::error_code ec;
  std::size_t n = socket_.write_some(asio::buffer(bytes), ec);
  if (!ec && n == bytes.size()) return on_written({});
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return on_written(ec);
  tx_ = std::move(bytes);
  tx_.erase(0, ec ? 0 : n);
  asio::async_write(socket_, asio::buffer(tx_),
                    [self = shared_from_this()](boost::system::error_code e, std::size_t) {
                      self->on_written(e);
                    });
}

void http_session::on_written(boost::system::error_code ec) {
  if (phase_ == phase::closed) return;
  if (ec) return close();
  if (!delivering_ms_.empty()) {
    auto& m = global_metrics();
    const auto kind = answer_live_ ? delivery_kind::live : delivery_kind::replay;
    const std::uint64_t wall = wall_ms_now();
    for (auto ms : delivering_ms_) m.record_delivery(counted_as_, kind, ms, wall);
    delivering_ms_.clear();
  }
  answer_live_ = false;
  tx_.clear();
  tx_.shrink_to_fit();
  if (!keep_alive_) {
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    return close();
  }
  phase_ = phase::idle;
  deadline_ = clock::now() + shard_.ctx().opt.idle_timeout;
  read_paused_ = false;
  if (!rx_.empty() && !consume(nullptr, 0)) return;
  arm_read();
}

void http_session::retire_for_handover() {
  phase_ = phase::closed;
  shard_.untrack(*this);
  global_metrics().connections[static_cast<std::size_t>(counted_as_)].add(-1);
}

void http_session::close() {
  if (phase_ == phase::closed) return;
  delivering_ms_.clear();
  if (wait_) wait_cancel();
  if (sio_wait_) {
    sio_carrier_gone(sio_wait_->conn, sio_wait_->carrier);
    sio_wait_.reset();
  }
  release_body();
  end_stream();
  phase_ = phase::closed;
  boost::system::error_code ec;
  socket_.close(ec);
  shard_.untrack(*this);
  global_metrics().connections[static_cast<std::size_t>(counted_as_)].add(-1);
}

void http_session::on_tick(clock::time_point now) {
  if (now < deadline_) return;
  switch (phase_) {
    case phase::idle:
    case phase::writing:
      close();
      break;
    case phase::reading:
      if (stream_) {
        // A full pipe stopped the reads: the upstream is slow, not the client (the upstream's
        // own write timeout bounds that, and --body-timeout still does).
        if (read_paused_ && now < body_cap_) break;
        body_timed_out();
        break;
      }
      keep_alive_ = false;
      parser_.reset();
      reject(408, "request not received in time", false);
      break;
    case phase::handling:
    case phase::closed:
      break;
  }
}

void http_session::on_shutdown() {
  shutting_down_ = true;
  keep_alive_ = false;
  switch (phase_) {
    case phase::idle:
    case phase::reading:
      close();
      break;
    case phase::handling:
      if (wait_) {
        wait_result r;
        r.shutting_down = true;
        wait_finish(std::move(r));
      }
      break;
    case phase::writing:  // closes after the write
    case phase::closed:
      break;
  }
}

}  // namespace cutover::net
