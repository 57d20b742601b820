#include "net/server.hpp"

#include <sched.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <future>
#include <thread>

#include "net/dashboard.hpp"
#include "net/health_reserve.hpp"
#include "net/http_session.hpp"
#include "net/route.hpp"
#include "net/sio_server.hpp"

namespace cutover::net {
namespace asio = boost::asio;

unsigned available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? hc : 1;
}

topic_list server_context::topics_for(const std::string& user) const {
  auto v = std::make_shared<std::vector<std::string>>();
  v->reserve(1 + opt.shared_topics.size());
  v->push_back("user:" + user);
  // Each topic once: a session sits in a topic's registry list at most once.
  for (const auto& t : opt.shared_topics)
    if (std::find(v->begin(), v->end(), t) == v->end()) v->push_back(t);
  return v;
}

bool server_context::trusted(const std::array<std::uint8_t, 16>& peer) const {
  for (const auto& net : auth->config().trusted_peers)
    if (net.contains(peer)) return true;
  return false;
}

server::server(server_context& ctx) : ctx_(ctx) {}

server::~server() {
  shutdown();
}

void server::prepare() {
  auto& t = ctx_.table;
  t = {};
  t.add({"/healthz", route_kind::health, auth_policy::none, false, transport::http});
  t.add({"/readyz", route_kind::ready, auth_policy::none, false, transport::http});
  t.add({"/metrics", route_kind::metrics, auth_policy::none, false, transport::http});
  t.add({"/v1/publish", route_kind::publish, auth_policy::admin_token, false, transport::http});
  t.add({ctx_.opt.ws_path, route_kind::websocket, auth_policy::identity, true, transport::http});
  t.add({ctx_.opt.sse_path, route_kind::events, auth_policy::identity, true, transport::http});
  if (!ctx_.opt.sio_path.empty()) {
    // socket.io-client asks for "/socket.io/"; a path given without the slash works too.
    std::string p = ctx_.opt.sio_path;
    std::string other = p.ends_with('/') ? p.substr(0, p.size() - 1) : p + "/";
    for (const auto& path : {p, other})
      if (!path.empty())
        t.add({path, route_kind::socketio, auth_policy::identity, true, transport::http});
    sio::eio_config cfg;
    cfg.ping_interval = ctx_.opt.sio_ping_interval;
    cfg.ping_timeout = ctx_.opt.sio_ping_timeout;
    cfg.max_payload = ctx_.opt.sio_max_payload;
    cfg.max_buffered_bytes = std::max(ctx_.opt.ws_queue_bytes, cfg.max_payload);
    ctx_.sio =
        std::make_shared<sio_service>(ctx_.opt.max_connections, cfg, ctx_.opt.sio_connect_timeout);
  }
  if (!ctx_.admin_token.empty()) {
    t.add({"/dashboard", route_kind::dashboard, auth_policy::admin_token, false, transport::http});
    t.add({"/dashboard/events", route_kind::dashboard_events, auth_policy::admin_token, false,
           transport::http});
    ctx_.dash_history = std::make_shared<dashboard_history>();
  }
  if (ctx_.auth && !ctx_.auth->config().demo_secret.empty()) {
    t.add({"/demo", route_kind::demo, auth_policy::none, false, transport::http});
    t.add({"/demo/token", route_kind::demo_token, auth_policy::none, false, transport::http});
  }
  for (const auto& [path, r] : ctx_.routes)
    t.add({path, route_kind::app, auth_policy::identity, false, r->counted_as(), r});
  unsigned n = ctx_.opt.threads ? ctx_.opt.threads : available_cpus();
  for (unsigned i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<shard>(ctx_, i));
    ctx_.hub_->add_target(shards_.back().get());
  }
}

result<std::uint16_t> server::start() {
  if (shards_.empty()) prepare();
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ctx_.opt.host, ec);
  if (ec) return error{"--listen: '" + ctx_.opt.host + "' is not an IP address"};
  asio::ip::tcp::endpoint ep(addr, ctx_.opt.port);
  acceptor_.emplace(shards_[0]->io());
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return error{"cannot listen on " + ctx_.opt.host + ":" + std::to_string(ctx_.opt.port) + ": " +
                 ec.message()};
  std::uint16_t port = acceptor_->local_endpoint().port();
  accept_retry_.emplace(shards_[0]->io());
  for (auto& s : shards_) s->start();
  if (ctx_.dash_history) ctx_.dash_history->start();
  asio::post(shards_[0]->io(), [this] { do_accept(); });
  return port;
}

void server::do_accept() {
  if (!acceptor_ || !acceptor_->is_open()) return;
  shard& target = *shards_[next_shard_];
  next_shard_ = (next_shard_ + 1) % shards_.size();
  acceptor_->async_accept(target.io(),
                          [this](boost::system::error_code ec, asio::ip::tcp::socket s) {
                            on_accept(ec, std::move(s));
                          });
}

void server::on_accept(boost::system::error_code ec, asio::ip::tcp::socket socket) {
  auto& m = global_metrics();
  if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
  if (ec) {
    // Out of file descriptors or similar: say so (at most once a second), back off briefly.
    m.accept_errors.add();
    ctx_.accept_failures.line("accept failed: " + ec.message() +
                              " (connections open: " + std::to_string(open_connections()) + ")");
    accept_retry_->expires_after(std::chrono::milliseconds(50));
    accept_retry_->async_wait([this](boost::system::error_code e) {
      if (!e) do_accept();
    });
    return;
  }
  m.accepted.add();
  if (open_connections() >= ctx_.opt.max_connections) {
    if (probes_.load(std::memory_order_relaxed) < ctx_.opt.health_reserve) {
      // A reserved slot: only a health check is answered on it (net/health_reserve.hpp).
      probes_.fetch_add(1, std::memory_order_relaxed);
      auto& io = static_cast<asio::io_context&>(socket.get_executor().context());
      asio::post(io, [owner = shard_of(io), s = std::move(socket), this]() mutable {
        std::make_shared<health_probe>(*owner, std::move(s), probes_)->start();
      });
      return do_accept();
    }
    // Over --max-connections: a short 503 and close; the socket's send buffer is empty,
    // so this write does not block.
    m.overload_rejections.add();
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(busy_response()), ignored);
    socket.close(ignored);
  } else {
    // The socket already belongs to its shard's io_context; start it there.
    auto& io = static_cast<asio::io_context&>(socket.get_executor().context());
    asio::post(io, [owner = shard_of(io), s = std::move(socket)]() mutable {
      std::make_shared<http_session>(*owner, std::move(s))->start();
    });
  }
  do_accept();
}

shard* server::shard_of(asio::io_context& io) const {
  for (const auto& s : shards_)
    if (&s->io() == &io) return s.get();
  return nullptr;
}

std::size_t server::open_connections() const {
  const auto& m = global_metrics();
  std::int64_t n = 0;
  for (const auto& c : m.connections) n += c.get();
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void server::shutdown() {
  if (stopped_ || shards_.empty()) return;
  stopped_ = true;
  // Stop accepting, then tell every connection (each on its own thread).
  std::promise<void> closed;
  asio::post(shards_[0]->io(), [this, &closed] {
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
    if (accept_retry_) accept_retry_->cancel();
    closed.set_value();
  });
  closed.get_future().wait_for(std::chrono::seconds(1));
  for (auto& s : shards_) asio::post(s->io(), [sh = s.get()] { sh->shutdown_connections(); });
  // Let answers and close frames reach the clients, within the grace period.
  auto deadline = clock::now() + ctx_.opt.shutdown_grace;
  while (open_connections() > 0 && clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (auto& s : shards_) s->stop();
  for (auto& s : shards_) s->join();
  if (ctx_.dash_history) ctx_.dash_history->stop();
}

}  // namespace cutover::net
