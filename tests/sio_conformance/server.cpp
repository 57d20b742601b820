#include "server.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>
#include <deque>
#include <iostream>
#include <optional>
#include <string>
#include <unordered_map>

#include "handlers.hpp"
#include "sio/eio_session.hpp"
#include "sio/sid_registry.hpp"

namespace cutover::sio_conformance {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using sio::carrier_id;
using sio::eio_clock;

enum class app_kind { engine_io, socket_io };

// One HTTP request or one WebSocket connection, as the Engine.IO session sees it.
class carrier {
 public:
  virtual ~carrier() = default;
  virtual void respond(int, std::string_view, std::string) {}
  virtual void ws_write(bool, std::string) {}
  virtual void ws_close() {}
};

struct session_ctx;

}  // namespace

struct server::impl {
  impl(net::io_context& c, const options& o) : ioc(c), opts(o), registry(100000) {}
  net::io_context& ioc;
  options opts;
  sio::sid_registry<session_ctx> registry;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  carrier_id next_id = 1;

  carrier_id fresh_id() { return next_id++; }
  void do_accept(tcp::acceptor& a);
};

namespace {

// An Engine.IO session, the handler above it and the carriers it may write to. Lives on
// the server's thread; owned by the registry and by the carriers that use it.
struct session_ctx : std::enable_shared_from_this<session_ctx> {
  session_ctx(server::impl& s, app_kind k, eio_clock::time_point now) : srv(s), timer(s.ioc) {
    if (k == app_kind::engine_io) {
      app = std::make_unique<eio_echo>();
    } else {
      app = std::make_unique<sio_echo>(s.opts.connect_timeout, now);
    }
  }

  std::shared_ptr<carrier> find(carrier_id c) {
    auto it = carriers.find(c);
    return it == carriers.end() ? nullptr : it->second;
  }

  // Carries out what the session asks for, until it asks for nothing more.
  void pump() {
    for (;;) {
      auto outs = eio->take_outputs();
      if (outs.empty()) break;
      for (auto& o : outs) {
        using kind = sio::eio_output::kind;
        switch (o.what) {
          case kind::respond:
            if (auto c = find(o.carrier)) c->respond(o.status, o.content_type, std::move(o.body));
            carriers.erase(o.carrier);
            break;
          case kind::ws_text:
          case kind::ws_binary:
            if (auto c = find(o.carrier)) c->ws_write(o.what == kind::ws_binary, std::move(o.body));
            break;
          case kind::ws_close:
            if (auto c = find(o.carrier)) c->ws_close();
            carriers.erase(o.carrier);
            break;
          case kind::deliver:
            app->on_message(*eio, o.message, eio_clock::now());
            break;
          case kind::closed:
            srv.registry.erase(eio->sid(), this);
            carriers.clear();  // what was still to be written is in the carriers' queues
            break;
        }
      }
    }
    arm();
  }

  // One timer for the session's next deadline (heartbeat, upgrade, connect timeout).
  void arm() {
    auto at = std::min(eio->next_deadline(), app->next_deadline());
    if (eio->closed() || at == eio_clock::time_point::max()) {
      timer.cancel();
      return;
    }
    timer.expires_at(at);
    timer.async_wait([w = weak_from_this()](beast::error_code ec) {
      auto self = w.lock();
      if (ec || !self) return;
      auto now = eio_clock::now();
      self->eio->on_tick(now);
      self->app->on_tick(*self->eio, now);
      self->pump();
    });
  }

  server::impl& srv;
  std::optional<sio::eio_session> eio;
  std::unique_ptr<handler> app;
  // Held strongly: a held GET has no pending operation that would keep its connection.
  std::unordered_map<carrier_id, std::shared_ptr<carrier>> carriers;
  net::steady_timer timer;
};

std::shared_ptr<session_ctx> create_session(server::impl& srv, app_kind k, sio::transport t,
                                            carrier_id first) {
  auto now = eio_clock::now();
  return srv.registry.create([&](const std::string& sid) {
    auto ctx = std::make_shared<session_ctx>(srv, k, now);
    ctx->eio.emplace(sid, t, first, srv.opts.eio, now);
    return ctx;
  });
}

// A WebSocket carrier: reads frames into the session, writes what it asks one frame per
// write, a frame gap apart.
class ws_conn : public carrier, public std::enable_shared_from_this<ws_conn> {
 public:
  ws_conn(beast::tcp_stream&& s, server::impl& srv, app_kind k)
      : ws_(std::move(s)), srv_(srv), kind_(k), gap_(ws_.get_executor()), id_(srv.fresh_id()) {}

  void run(http::request<http::string_body> req, std::optional<std::string> sid) {
    sid_ = std::move(sid);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(srv_.opts.eio.max_payload + 16);
    ws_.async_accept(req,
                     [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void ws_write(bool binary, std::string body) override {
    out_.emplace_back(binary, std::move(body));
    if (!writing_) do_write();
  }
  void ws_close() override {
    close_requested_ = true;
    if (!writing_ && out_.empty()) do_close();
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return;
    if (!sid_) {
      ctx_ = create_session(srv_, kind_, sio::transport::websocket, id_);
      if (!ctx_) return do_close();
      ctx_->carriers[id_] = shared_from_this();
    } else {
      ctx_ = srv_.registry.find(*sid_);
      if (!ctx_) return do_close();  // a sid this process does not hold
      ctx_->carriers[id_] = shared_from_this();
      ctx_->eio->on_ws_open(id_, eio_clock::now());
    }
    ctx_->pump();
    do_read();
  }

  void do_read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }
  void on_read(beast::error_code ec) {
    if (ec) {
      closed_ = true;
      ctx_->carriers.erase(id_);
      ctx_->eio->on_carrier_gone(id_, eio_clock::now());
      ctx_->pump();
      return;
    }
    std::string data = beast::buffers_to_string(buf_.data());
    buf_.consume(buf_.size());
    ctx_->eio->on_ws_frame(id_, !ws_.got_text(), data, eio_clock::now());
    ctx_->pump();
    if (!closed_) do_read();
  }

  void do_write() {
    if (out_.empty()) {
      if (close_requested_) do_close();
      return;
    }
    if (closed_) return;
    writing_ = true;
    ws_.text(!out_.front().first);
    ws_.async_write(
        net::buffer(out_.front().second),
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }
  void on_write(beast::error_code ec) {
    writing_ = false;
    out_.pop_front();
    if (ec) return;
    if (out_.empty()) {
      if (close_requested_) do_close();
      return;
    }
    // The next frame one task (or one gap) later, in a write of its own.
    writing_ = true;
    if (srv_.opts.frame_gap.count() == 0) {
      net::post(ws_.get_executor(), [self = shared_from_this()] {
        self->writing_ = false;
        self->do_write();
      });
      return;
    }
    gap_.expires_after(srv_.opts.frame_gap);
    gap_.async_wait([self = shared_from_this()](beast::error_code) {
      self->writing_ = false;
      self->do_write();
    });
  }
  void do_close() {
    if (closed_) return;
    closed_ = true;
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<beast::tcp_stream> ws_;
  server::impl& srv_;
  app_kind kind_;
  net::steady_timer gap_;
  carrier_id id_;
  std::optional<std::string> sid_;
  std::shared_ptr<session_ctx> ctx_;
  beast::flat_buffer buf_;
  std::deque<std::pair<bool, std::string>> out_;
  bool writing_ = false;
  bool close_requested_ = false;
  bool closed_ = false;
};

// An HTTP connection: polling GETs and POSTs (each request its own carrier), or the
// request that becomes a WebSocket.
class http_conn : public carrier, public std::enable_shared_from_this<http_conn> {
 public:
  http_conn(tcp::socket&& s, server::impl& srv) : stream_(std::move(s)), srv_(srv) {}

  void start() { do_read(); }

  void respond(int status, std::string_view type, std::string body) override {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), parser_->get().version());
    res->set(http::field::content_type, type);
    res->set(http::field::access_control_allow_origin, "*");
    res->keep_alive(keep_alive_);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (!self->keep_alive_) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->do_read();
                      });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(srv_.opts.eio.max_payload + 1);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read_header(stream_, buf_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec) self->on_header();
                            });
  }

  void refuse(sio::eio_error e) {
    respond(sio::eio_error_status(e), sio::kJson, sio::eio_error_body(e));
  }

  void on_header() {
    stream_.expires_never();
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    auto url = boost::urls::parse_origin_form(req.target());
    if (!url) return respond(400, "text/plain", "bad target");
    std::string path = url->path();
    app_kind kind;
    if (path == "/engine.io/" || path == "/engine.io") {
      kind = app_kind::engine_io;
    } else if (path == "/socket.io/" || path == "/socket.io") {
      kind = app_kind::socket_io;
    } else {
      return respond(404, "text/plain", "not found");
    }
    std::optional<std::string> eio, transport, sid;
    for (auto p : url->params()) {
      if (p.key == "EIO") eio = std::string(p.value);
      if (p.key == "transport") transport = std::string(p.value);
      if (p.key == "sid") sid = std::string(p.value);
    }
    if (req.method() == http::verb::options) {
      return respond(204, "text/plain", "");
    }
    sio::http_method m = req.method() == http::verb::get    ? sio::http_method::get
                         : req.method() == http::verb::post ? sio::http_method::post
                                                            : sio::http_method::other;
    bool upgrade = websocket::is_upgrade(req);
    sio::eio_query q;
    if (eio) q.eio = *eio;
    if (transport) q.transport = *transport;
    if (sid) q.sid = *sid;
    auto checked = sio::check_request(m, upgrade, q);
    if (auto* e = std::get_if<sio::eio_error>(&checked)) {
      if (upgrade) keep_alive_ = false;  // a refused upgrade ends the connection
      return refuse(*e);
    }
    if (upgrade) {
      auto ws = std::make_shared<ws_conn>(std::move(stream_), srv_, kind);
      return ws->run(parser_->release(), sid);
    }
    carrier_id id = srv_.fresh_id();
    auto now = eio_clock::now();
    if (!sid) {
      auto ctx = create_session(srv_, kind, sio::transport::polling, id);
      if (!ctx) return respond(503, "text/plain", "full");
      ctx->carriers[id] = shared_from_this();
      return ctx->pump();
    }
    auto ctx = srv_.registry.find(*sid);
    if (!ctx) return refuse(sio::eio_error::session_id_unknown);
    ctx->carriers[id] = shared_from_this();
    if (m == sio::http_method::get) {
      ctx->eio->on_poll_get(id, now);
      return ctx->pump();
    }
    std::optional<std::size_t> length;
    if (auto l = parser_->content_length()) length = static_cast<std::size_t>(*l);
    if (!ctx->eio->on_poll_post_begin(id, length, now)) return ctx->pump();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buf_, *parser_,
                     [self = shared_from_this(), ctx, id](beast::error_code ec, std::size_t) {
                       self->stream_.expires_never();
                       auto t = eio_clock::now();
                       if (ec == http::error::body_limit) {
                         self->keep_alive_ = false;
                         self->respond(413, sio::kJson,
                                       sio::eio_error_body(sio::eio_error::bad_request));
                         ctx->carriers.erase(id);
                         ctx->eio->on_carrier_gone(id, t);
                         ctx->eio->close(t);
                         return ctx->pump();
                       }
                       if (ec) {
                         ctx->carriers.erase(id);
                         ctx->eio->on_carrier_gone(id, t);
                         return ctx->pump();
                       }
                       ctx->eio->on_poll_post_body(id, self->parser_->get().body(), t);
                       ctx->pump();
                     });
  }

  beast::tcp_stream stream_;
  server::impl& srv_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
};

}  // namespace

void server::impl::do_accept(tcp::acceptor& a) {
  a.async_accept([this, &a](beast::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true), ec);
      std::make_shared<http_conn>(std::move(s), *this)->start();
    }
    do_accept(a);
  });
}

server::server(net::io_context& ioc, const options& opts)
    : impl_(std::make_shared<impl>(ioc, opts)) {}
server::~server() = default;

void server::start() {
  for (const char* addr : {"127.0.0.1", "::1"}) {
    beast::error_code ec;
    auto a = std::make_unique<tcp::acceptor>(impl_->ioc);
    tcp::endpoint ep(net::ip::make_address(addr), impl_->opts.port);
    a->open(ep.protocol(), ec);
    if (!ec) a->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a->bind(ep, ec);
    if (!ec) a->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      if (std::string_view(addr) == "::1") continue;  // no IPv6 loopback here: fine
      throw std::runtime_error(std::string("listen on ") + addr + ": " + ec.message());
    }
    impl_->do_accept(*a);
    impl_->acceptors.push_back(std::move(a));
  }
}

}  // namespace cutover::sio_conformance
