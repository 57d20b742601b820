// Health checks past --max-connections (net/health_reserve.hpp). On the probe's shard.
#include "net/health_reserve.hpp"

#include <boost/asio/write.hpp>

#include "net/http_util.hpp"
#include "net/metrics.hpp"

namespace cutover::net {
namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {
// A health check's head is a request line and a few headers; nothing takes a body here.
constexpr std::size_t kProbeHeadBytes = 4096;
constexpr auto kProbeDeadline = std::chrono::seconds(1);
}  // namespace

const std::string& busy_response() {
  static const std::string busy =
      make_response(503, "application/json", json_error_body(503, "too many connections, retry"),
                    false, {{"Retry-After", "1"}});
  return busy;
}

health_probe::health_probe(shard& sh, asio::ip::tcp::socket socket,
                           std::atomic<std::size_t>& in_use)
    : shard_(sh), socket_(std::move(socket)), in_use_(in_use) {}

health_probe::~health_probe() {
  if (!closed_) shard_.untrack(*this);
  in_use_.fetch_sub(1, std::memory_order_relaxed);
}

void health_probe::start() {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  parser_ = new_request_parser(kProbeHeadBytes, 0);
  deadline_ = clock::now() + kProbeDeadline;
  shard_.track(*this);
  arm_read();
}

void health_probe::arm_read() {
  socket_.async_wait(
      asio::ip::tcp::socket::wait_read,
      [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
}

void health_probe::on_readable(boost::system::error_code ec) {
  if (closed_) return;
  if (ec) return finish({});
  // Never more than the head's limit is read or kept (the parser takes a head only whole,
  // so what it has not used yet waits in head_).
  auto buf = shard_.scratch().first(kProbeHeadBytes - head_.size());
  std::size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return arm_read();
  if (ec) return finish({});
  head_.append(buf.data(), n);
  auto st = parse_some(*parser_, head_, header_seen_);
  head_.erase(0, st.used);
  if (st.stop == parse_stop::error) return finish(busy_response());
  if (st.stop == parse_stop::need_more) {
    if (head_.size() >= kProbeHeadBytes) return finish(busy_response());
    return arm_read();
  }
  answer();  // header (a body announced is never read) or done
}

void health_probe::answer() {
  auto& m = global_metrics();
  const auto& req = parser_->get();
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  bool head = req.method() == http::verb::head;
  bool get = head || req.method() == http::verb::get;
  std::string body;
  int status = 0;
  if (get && path == "/healthz") {
    status = 200;
    body = R"({"status":"ok"})";
  } else if (get && path == "/readyz") {
    status = 503;
    body = R"({"ready":false,"connections":"at_limit","max_connections":)" +
           std::to_string(shard_.ctx().opt.max_connections) + "}";
  } else {
    m.overload_rejections.add();
    return finish(busy_response());
  }
  m.health_reserve_answers.add();
  std::string out = make_response(
      status, "application/json", body, false,
      status == 503 ? std::vector<header>{{"Retry-After", "1"}} : std::vector<header>{});
  if (head) out.resize(out.size() - body.size());
  finish(out);
}

void health_probe::finish(const std::string& reply) {
  if (closed_) return;
  closed_ = true;
  shard_.untrack(*this);
  boost::system::error_code ignored;
  // A fresh socket's send buffer is empty: a reply of a few hundred bytes goes at once.
  if (!reply.empty()) socket_.write_some(asio::buffer(reply), ignored);
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  socket_.close(ignored);
}

void health_probe::on_tick(clock::time_point now) {
  if (now < deadline_) return;
  global_metrics().overload_rejections.add();
  finish(busy_response());
}

}  // namespace cutover::net
