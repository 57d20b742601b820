#include "net/dashboard.hpp"

#include <openssl/crypto.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <mutex>
#include <utility>

#include "net/http_util.hpp"

namespace cutover::net {
namespace asio = boost::asio;

namespace {

std::atomic<std::size_t> g_viewers{0};

bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void append_number(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  out += buf;
}

// {"longpoll":n,...} of every transport (`all`) or the user-facing ones.
template <class F>
void append_per_transport(std::string& out, bool all, F value) {
  out += '{';
  bool first = true;
  for (const auto& t : transports()) {
    if (!all && !t.user_facing) continue;
    if (!first) out += ',';
    first = false;
    out += '"';
    out += t.label;
    out += "\":";
    out += std::to_string(value(static_cast<std::size_t>(t.id)));
  }
  out += '}';
}

void append_users(std::string& out, const user_activity::counts& u) {
  append_per_transport(out, false, [&](std::size_t i) { return u.by_transport[i]; });
  out.insert(out.size() - 1, ",\"2+\":" + std::to_string(u.two_plus));
}

// "history":[{"time_ms":..,"connections":{..},"users":{..}},..]
void append_history(std::string& out, const std::vector<dashboard_history::sample>& samples) {
  out += ",\"history\":[";
  bool first = true;
  for (const auto& smp : samples) {
    if (!first) out += ',';
    first = false;
    out += "{\"time_ms\":" + std::to_string(smp.time_ms) + ",\"connections\":";
    append_per_transport(out, true, [&](std::size_t i) { return smp.connections[i]; });
    out += ",\"users\":";
    append_users(out, smp.users);
    out += '}';
  }
  out += ']';
}

class dashboard_feed final : public connection_base,
                             public std::enable_shared_from_this<dashboard_feed> {
 public:
  dashboard_feed(shard& sh, asio::ip::tcp::socket s) : shard_(sh), socket_(std::move(s)) {}
  ~dashboard_feed() { finish(); }

  void start() {
    shard_.track(*this);
    tracked_ = true;
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "Connection: close\r\n\r\nretry: 2000\n\n";
    write(head + event());
    watch();
  }
  void on_tick(clock::time_point) override {
    // A viewer still reading the previous snapshot skips this one (and its history is
    // sent with the next one it takes).
    if (!closed_ && pending_.empty()) write(event());
  }
  void on_shutdown() override { finish(); }

 private:
  std::string event() {
    std::string snap = dashboard_snapshot(shard_.ctx());
    // deliveries/s: this feed's own previous sample.
    const auto& m = global_metrics();
    auto now = clock::now();
    std::uint64_t total = 0;
    std::string rates = ",\"deliveries_per_s\":{";
    bool first = true;
    for (const auto& t : transports()) {
      if (!t.user_facing) continue;
      auto i = static_cast<std::size_t>(t.id);
      std::uint64_t v = m.deliveries[i].get();
      total += v;
      double secs = std::chrono::duration<double>(now - last_at_).count();
      double r = last_at_ == clock::time_point{} || secs <= 0
                     ? 0
                     : static_cast<double>(v - last_[i]) / secs;
      last_[i] = v;
      if (!first) rates += ',';
      first = false;
      rates += '"';
      rates += t.label;
      rates += "\":";
      append_number(rates, r);
    }
    rates += '}';
    last_at_ = now;
    // The first snapshot carries the server's last hour; later ones the samples taken since.
    if (const auto& hist = shard_.ctx().dash_history) {
      auto fresh = hist->since(history_seq_);
      if (!fresh.empty() || !history_sent_) append_history(rates, fresh);
      history_sent_ = true;
    }
    snap.insert(snap.size() - 1, rates);
    return "event: snapshot\ndata: " + snap + "\n\n";
  }
  void write(const std::string& bytes) {
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    std::size_t n = socket_.write_some(asio::buffer(bytes), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) n = 0, ec = {};
    if (ec) return finish();
    if (n < bytes.size()) {
      pending_ = bytes.substr(n);
      socket_.async_write_some(asio::buffer(pending_),
                               [self = shared_from_this()](boost::system::error_code e,
                                                           std::size_t k) { self->written(e, k); });
    }
  }
  void written(boost::system::error_code ec, std::size_t n) {
    if (closed_) return;
    if (ec) return finish();
    pending_.erase(0, n);
    if (!pending_.empty())
      socket_.async_write_some(asio::buffer(pending_),
                               [self = shared_from_this()](boost::system::error_code e,
                                                           std::size_t k) { self->written(e, k); });
  }
  // The browser sends nothing; readable means it left (EOF) or sent junk: either ends it.
  void watch() {
    socket_.async_wait(asio::ip::tcp::socket::wait_read,
                       [self = shared_from_this()](boost::system::error_code) { self->finish(); });
  }
  void finish() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.close(ec);
    if (tracked_) shard_.untrack(*this);
    tracked_ = false;
    g_viewers.fetch_sub(1);
    global_metrics().connections[static_cast<std::size_t>(transport::http)].add(-1);
  }

  shard& shard_;
  asio::ip::tcp::socket socket_;
  std::string pending_;
  std::array<std::uint64_t, kTransports> last_{};
  clock::time_point last_at_{};
  std::uint64_t history_seq_ = 0;  // history samples already sent to this viewer
  bool history_sent_ = false;
  bool closed_ = false;
  bool tracked_ = false;
};

}  // namespace

bool dashboard_authorized(std::string_view admin_token, std::string_view authorization,
                          std::string_view cookie) {
  if (admin_token.empty()) return false;
  if (authorization.size() > 7 && iequals(authorization.substr(0, 7), "bearer ") &&
      equal_secret(authorization.substr(7), admin_token))
    return true;
  // Cookie: a=b; cutover_admin=<token>; ...
  while (!cookie.empty()) {
    auto semi = cookie.find(';');
    auto part = cookie.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == kDashboardCookie &&
        equal_secret(part.substr(eq + 1), admin_token))
      return true;
    if (semi == std::string_view::npos) break;
    cookie.remove_prefix(semi + 1);
  }
  return false;
}

std::string dashboard_snapshot(const server_context& ctx) {
  const auto& m = global_metrics();
  std::string out = "{\"time_ms\":" + std::to_string(wall_ms_now());
  out += ",\"connections\":{";
  bool first = true;
  for (const auto& t : transports()) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += t.label;
    out += "\":" + std::to_string(m.connections[static_cast<std::size_t>(t.id)].get());
  }
  out += "},\"waiting_polls\":" + std::to_string(m.waiting_polls.get());
  out += ",\"users_last_hour\":";
  append_users(out, ctx.dash_history ? ctx.dash_history->users() : user_activity::counts{});
  // Live delivery latency p50/p99 per transport, interpolated within the histogram's
  // buckets as Prometheus' histogram_quantile() does (null: no delivery yet).
  out += ",\"delivery_latency_s\":{";
  first = true;
  for (const auto& t : transports()) {
    if (!t.user_facing) continue;
    auto h = m.delivery_latency[static_cast<std::size_t>(t.id)][0].read();
    if (!first) out += ',';
    first = false;
    out += '"';
    out += t.label;
    out += "\":{\"count\":" + std::to_string(h.count());
    for (auto [name, q] : {std::pair{",\"p50\":", 0.5}, std::pair{",\"p99\":", 0.99}}) {
      out += name;
      if (auto v = h.quantile(q))
        append_number(out, *v);
      else
        out += "null";
    }
    out += '}';
  }
  out += '}';
  if (ctx.dashboard_fields) {
    out += ',';
    out += ctx.dashboard_fields();
  }
  out += '}';
  return out;
}

void dashboard_history::start() {
  {
    std::lock_guard lk(mu_);
    if (thread_.joinable()) return;
  }
  // The first sample is taken here, before the server accepts anyone (nothing to walk yet),
  // so the first snapshot a viewer gets always carries one; the thread takes the rest.
  take();
  std::lock_guard lk(mu_);
  stop_ = false;
  thread_ = std::thread([this] {
    std::unique_lock held(mu_);
    while (!cv_.wait_for(held, kEvery, [this] { return stop_; })) {
      held.unlock();
      take();
      held.lock();
    }
  });
}

void dashboard_history::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void dashboard_history::take() {
  sample smp;
  smp.time_ms = static_cast<std::int64_t>(wall_ms_now());
  const auto& m = global_metrics();
  for (std::size_t i = 0; i < kTransports; ++i) smp.connections[i] = m.connections[i].get();
  smp.users = global_user_activity().recent();  // outside the lock: the long part
  std::lock_guard lk(mu_);
  if (ring_.size() < kSamples)
    ring_.push_back(smp);
  else
    ring_[taken_ % kSamples] = smp;
  ++taken_;
}

std::vector<dashboard_history::sample> dashboard_history::since(std::uint64_t& seq) const {
  std::lock_guard lk(mu_);
  std::uint64_t from = std::max<std::uint64_t>(seq, taken_ > kSamples ? taken_ - kSamples : 0);
  std::vector<sample> out;
  out.reserve(static_cast<std::size_t>(taken_ - std::min(from, taken_)));
  for (std::uint64_t i = from; i < taken_; ++i) out.push_back(ring_[i % kSamples]);
  seq = taken_;
  return out;
}

user_activity::counts dashboard_history::users() const {
  std::lock_guard lk(mu_);
  if (taken_ == 0) return {};
  return ring_[(taken_ - 1) % kSamples].users;
}

bool start_dashboard_feed(shard& sh, asio::ip::tcp::socket& socket) {
  if (g_viewers.fetch_add(1) >= kMaxDashboardViewers) {
    g_viewers.fetch_sub(1);
    return false;
  }
  global_metrics().connections[static_cast<std::size_t>(transport::http)].add(1);
  std::make_shared<dashboard_feed>(sh, std::move(socket))->start();
  return true;
}

}  // namespace cutover::net
