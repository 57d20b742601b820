#include "net/sio_server.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_text.hpp"
#include "core/notification.hpp"
#include "net/http_session.hpp"
#include "net/push_carrier.hpp"
#include "net/push_session.hpp"
#include "net/shard.hpp"
#include "net/small_queue.hpp"
#include "net/ws_protocol.hpp"
#include "sio/deadline_heap.hpp"
#include "sio/eio_session.hpp"
#include "sio/sio_frame.hpp"
#include "sio/sio_packet.hpp"

namespace cutover::net {
namespace asio = boost::asio;
using sio::carrier_id;
using sio::eio_clock;

namespace {

// The push session's end, as a frame: the carrier closes the Engine.IO session for it.
// No notification frame starts with a NUL.
const std::string kEndMarker(1, '\0');
constexpr std::size_t kMaxInbound = 16;  // client events waiting for the push session

std::string sio_text(sio::sio_type t, std::string_view data, std::string_view nsp = "/") {
  sio::sio_packet p;
  p.type = t;
  p.nsp = std::string(nsp);
  p.data = std::string(data);
  return sio::encode_sio(p);
}

// 44{"message":..,"data":{"status":N}}: a refusal the client must not retry.
std::string refusal(std::string_view message, int status) {
  std::string body = R"({"message":)";
  json_text::append_quoted(body, message);
  body += R"(,"data":{"status":)" + std::to_string(status) + "}}";
  return sio_text(sio::sio_type::connect_error, body);
}

// Socket.IO events (DESIGN §6.2): `2["hello",<hello>,"<cursor>"]` and so on; the Engine.IO
// message type in front ("4") is the carrier's. Except notifications: those are the shared
// pre-framed WebSocket frame (sio/sio_frame.hpp), which the carrier writes as it is on a
// WebSocket session, or unwraps into the Socket.IO packet for a polling or upgrading one.
class sio_codec final : public codec {
 public:
  explicit sio_codec(std::string ack) : ack_(std::move(ack)) {}
  transport kind() const override { return transport::socketio; }
  std::string open() override { return std::move(ack_); }
  std::string hello(stream_id cursor, bool, const std::vector<std::string>& topics) override {
    return R"(2["hello",)" + hello_json(cursor, topics) + ",\"" + cursor.str() + "\"]";
  }
  const std::string& notification(const cutover::notification& n) override {
    return sio::sio_notification_frame(n);
  }
  std::string reset(stream_id oldest) override {
    return R"(2["reset",)" + reset_json(oldest) + "]";
  }
  std::string keepalive() override { return {}; }  // Engine.IO pings are the session's
  std::string end(end_reason, std::uint16_t, std::string_view) override { return kEndMarker; }
  void feed(const char* data, std::size_t n, codec_events& ev) override;
  std::chrono::milliseconds keepalive_interval() const override { return std::chrono::hours(24); }
  bool keepalive_when_idle() const override { return true; }
  std::optional<std::chrono::milliseconds> silence_timeout() const override { return std::nullopt; }

 private:
  std::string ack_;
};

// One client EVENT on "/" (already checked by sio_conn): `resume` re-reads, others are
// ignored and counted.
void sio_codec::feed(const char* data, std::size_t n, codec_events& ev) {
  if (ev.closing()) return;
  auto p = sio::decode_sio(std::string_view(data, n));
  if (!p || p->type != sio::sio_type::event) return;
  auto& args = p->json.as_array();
  if (!args[0].is_string() || args[0].get_string() != "resume") {
    global_metrics().sio_ignored_events.add();
    return;
  }
  auto answer = [&](std::string json) {
    if (p->id) {
      sio::sio_packet ack;
      ack.type = sio::sio_type::ack;
      ack.id = p->id;
      ack.data = "[" + json + "]";
      ev.reply(sio::encode_sio(ack));
    } else {
      ev.reply(R"(2["error",)" + json + "]");
    }
  };
  const boost::json::value* since = nullptr;
  if (args.size() > 1 && args[1].is_object()) since = args[1].get_object().if_contains("since");
  std::string text;
  if (since && since->is_string())
    text = std::string(since->get_string());
  else if (since && since->is_uint64())
    text = std::to_string(since->get_uint64());
  else if (since && since->is_int64() && since->get_int64() >= 0)
    text = std::to_string(since->get_int64());
  cursor_error why;
  auto c = text.empty() ? std::nullopt : parse_cursor(text, &why);
  if (!c) {
    global_metrics().ws_client_errors.add();
    return answer(
        error_json(text.empty() ? "resume needs {since: <id or legacyId>}" : why.message));
  }
  if (p->id) answer(R"({"cursor":")" + c->after.str() + "\"}");
  ev.resume(*c);
}

std::string ws_101(std::string_view accept_key) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         std::string(accept_key) + "\r\n\r\n";
}

}  // namespace

// A WebSocket of an Engine.IO session, on the session's owner thread: frames in, frames out.
class sio_ws : public std::enable_shared_from_this<sio_ws> {
 public:
  sio_ws(asio::ip::tcp::socket s, std::size_t max_message, carrier_id id)
      : socket_(std::move(s)), parser_(max_message), id_(id) {}
  carrier_id id() const { return id_; }
  std::size_t tx_bytes() const { return tx_bytes_; }

  void start(std::weak_ptr<sio_conn> conn, std::string head, std::string leftover);
  // Client bytes read with the upgrade request (after the session knows this carrier).
  void take_leftover(std::string bytes) {
    if (!closed_) feed(bytes.data(), bytes.size());
  }
  void send(unsigned char opcode, std::string_view payload) {
    if (closed_ || close_queued_) return;
    queue(make_ws_frame(opcode, payload));
  }
  void close(std::uint16_t code = ws::close_code::normal) {
    if (closed_ || close_queued_) return;
    queue(ws::close_frame(code, ""));
    close_queued_ = true;
  }
  // Nothing of ours is queued or being written: bytes written now go out in order.
  bool idle() const noexcept { return !closed_ && !close_queued_ && !writing_ && tx_.empty(); }
  // Whole WebSocket frames (the shared notification frames) written straight onto the socket,
  // one writev, only when idle(). Returns how many of `frames` it took: those the socket took
  // whole, and the one it took in part or (once full) not at all, whose rest is queued here to
  // go out first. `full`: the socket is full; write no more until ws_drained. `failed`: the
  // socket is gone (nothing was taken).
  std::size_t write_direct(std::span<const asio::const_buffer> frames, bool& full, bool& failed) {
    boost::system::error_code ec;
    std::size_t n = socket_.write_some(frames, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      n = 0;
    } else if (ec) {
      failed = true;
      return 0;
    }
    std::size_t taken = 0;
    while (taken < frames.size() && n >= frames[taken].size()) n -= frames[taken++].size();
    if (taken == frames.size()) return taken;
    full = true;
    const auto& rest = frames[taken];
    queue(std::string(static_cast<const char*>(rest.data()) + n, rest.size() - n));
    return taken + 1;
  }

 private:
  void queue(std::string frame) {
    tx_bytes_ += frame.size();
    tx_.push_back(std::move(frame));
    if (!writing_) write();
  }
  void write();
  void arm_read();
  void on_readable(boost::system::error_code ec);
  void feed(const char* data, std::size_t n);
  void gone();

  asio::ip::tcp::socket socket_;
  ws::frame_parser parser_;
  carrier_id id_;
  std::weak_ptr<sio_conn> conn_;
  small_queue<std::string> tx_;  // not std::deque: it allocates 512 bytes up front
  std::size_t tx_bytes_ = 0;
  std::size_t in_flight_ = 0;  // frames of tx_ the current write carries
  bool writing_ = false;
  bool close_queued_ = false;
  bool closed_ = false;
};

class eio_carrier;
class sio_deadlines;

class sio_conn : public std::enable_shared_from_this<sio_conn> {
 public:
  sio_conn(shard& owner, sio_service& svc, sio_start who);
  ~sio_conn();

  shard& owner() { return owner_; }
  sio_service& service() { return svc_; }
  // The handshake request: the session's first carrier, answered with the open packet.
  void on_poll_open(sio_poll req) {
    polls_.push_back(std::move(req));
    pump();
  }
  void begin(std::string sid, sio::transport t, carrier_id first) {
    auto now = eio_clock::now();
    eio_.emplace(std::move(sid), t, first, svc_.eio, now);
    connect_deadline_ = now + svc_.connect_timeout;
    counted_ = true;
    ws_gauge_ = t == sio::transport::websocket;
    global_metrics().sio_sessions[gauge_index()].add(1);
  }

  // --- carriers (owner thread)
  void on_poll(sio_poll req) {
    auto now = eio_clock::now();
    carrier_id c = req.carrier;
    bool post = req.post;
    std::string body = std::move(req.body);
    polls_.push_back(std::move(req));
    if (!post) {
      eio_->on_poll_get(c, now);
    } else if (eio_->on_poll_post_begin(c, body.size(), now)) {
      eio_->on_poll_post_body(c, body, now);
    }
    pump();
  }
  void on_gone(carrier_id c) {
    drop_poll(c);
    if (ws_ && ws_->id() == c) ws_.reset();
    if (eio_ && !eio_->closed()) eio_->on_carrier_gone(c, eio_clock::now());
    pump();
  }
  void on_ws_open(std::shared_ptr<sio_ws> ws) {
    if (eio_->closed()) {
      ws->close();
      return;
    }
    auto id = ws->id();
    if (ws_) {
      ws->close();  // a second WebSocket for one session: refused, the first stays
      return;
    }
    ws_ = std::move(ws);
    if (eio_->active_transport() == sio::transport::polling) eio_->on_ws_open(id, eio_clock::now());
    pump();
  }
  void on_ws_frame(carrier_id c, bool binary, std::string_view data) {
    if (!eio_->closed()) eio_->on_ws_frame(c, binary, data, eio_clock::now());
    pump();
  }

  // --- the push session's carrier
  bool open() const { return eio_ && eio_->open(); }
  std::size_t backlog() const { return eio_->buffered_bytes() + (ws_ ? ws_->tx_bytes() : 0); }
  std::size_t backlog_limit() const { return svc_.eio.max_buffered_bytes; }
  bool send(std::string text) { return eio_->send_text(std::move(text)); }
  // The shared notification frames may go straight onto the WebSocket (nothing would be
  // overtaken): the session is on it, not upgrading, and nothing of it waits anywhere.
  bool direct_ok() const {
    return eio_ && eio_->writable_direct() && ws_ && ws_->id() == eio_->websocket() && ws_->idle();
  }
  std::size_t write_direct(std::span<const asio::const_buffer> frames, bool& full, bool& failed) {
    return ws_->write_direct(frames, full, failed);
  }
  void server_close() {
    if (eio_ && eio_->open()) eio_->close(eio_clock::now());
    schedule_pump();
  }
  void schedule_pump() {
    if (pump_posted_) return;
    pump_posted_ = true;
    asio::post(owner_.io(), [self = shared_from_this()] {
      self->pump_posted_ = false;
      self->pump();
    });
  }
  std::optional<std::string> take_inbound() {
    if (inbound_.empty()) return std::nullopt;
    std::string m = std::move(inbound_.front());
    inbound_.pop_front();
    return m;
  }
  bool ended() const { return !eio_ || eio_->closed(); }
  void set_carrier(eio_carrier* c) { carrier_ = c; }
  void clear_carrier(const eio_carrier* c) {
    if (carrier_ == c) carrier_ = nullptr;
  }
  void ws_drained() { notify_carrier(); }

  void pump();
  // From this thread's sio_deadlines: the deadline this session asked for has come.
  void on_deadline(eio_clock::time_point now);

  sio::deadline_hook deadline_;  // this session's place in its thread's sio_deadlines

 private:
  std::size_t gauge_index() const { return ws_gauge_ ? 1 : 0; }
  void on_message(const sio::eio_packet& m);
  void on_packet(sio::sio_packet& p);
  void on_connect(const sio::sio_packet& p);
  void start_push(std::optional<cursor> since, std::string pid);
  void garbage() {
    global_metrics().sio_garbage.add();
    server_close();
  }
  void send_now(std::string text) {
    if (eio_->open()) eio_->send_text(std::move(text));
  }
  void notify_carrier();
  void arm_timer();
  void drop_poll(carrier_id c) {
    std::erase_if(polls_, [c](const sio_poll& p) { return p.carrier == c; });
    if (polls_.empty()) std::vector<sio_poll>().swap(polls_);
  }

  shard& owner_;
  sio_service& svc_;
  sio_start who_;
  std::optional<sio::eio_session> eio_;
  std::unique_ptr<sio::sio_reader> reader_;  // while a packet is being read
  // The requests waiting for an answer: at most a GET, a POST and a refused newcomer, so a
  // vector (an unordered_map kept a bucket array per polling session).
  std::vector<sio_poll> polls_;
  std::shared_ptr<sio_ws> ws_;
  std::shared_ptr<push_session> push_;
  eio_carrier* carrier_ = nullptr;  // push_'s, while it lives
  small_queue<std::string> inbound_;
  sio_deadlines& deadlines_;  // the owner thread's, shared by all its sessions
  // The CONNECT's recovery read while it is queued: dropped when the session ends or the
  // client leaves "/", so a read nobody waits for never touches the store (issue 12).
  read_claim_ptr connect_claim_;
  eio_clock::time_point connect_deadline_ = eio_clock::time_point::max();
  bool connected_ = false;  // CONNECT to "/" accepted (or being checked)
  bool pump_posted_ = false;
  bool counted_ = false;
  bool ws_gauge_ = false;
  bool ended_ = false;
};

class eio_carrier final : public carrier {
 public:
  explicit eio_carrier(std::weak_ptr<sio_conn> c) : conn_(std::move(c)) {}
  ~eio_carrier() override {
    if (auto c = conn_.lock()) c->clear_carrier(this);
  }
  // The client left the namespace: the push session reads its end, writes go nowhere.
  void disown() {
    disowned_ = true;
    wake(true, true, true);
  }
  void bind(push_session& s, std::uint64_t generation) override {
    owner_ = &s;
    gen_ = generation;
    if (auto c = conn_.lock()) c->set_carrier(this);
  }
  std::size_t write(std::span<const asio::const_buffer> bufs, io_status& st) override {
    auto c = conn_.lock();
    st = io_status::ok;
    if (!c || !c->open() || disowned_) {
      st = io_status::failed;
      return 0;
    }
    auto view = [](const asio::const_buffer& b) {
      return std::string_view(static_cast<const char*>(b.data()), b.size());
    };
    std::size_t total = 0;
    bool queued = false;  // something went to the Engine.IO session: it needs a pump
    for (std::size_t i = 0; i < bufs.size();) {
      std::string_view text = view(bufs[i]);
      if (text == kEndMarker) {
        c->server_close();
        total += text.size();
        queued = true;
        break;
      }
      if (sio::is_sio_ws_frame(text) && c->direct_ok()) {
        // A run of shared notification frames: one writev, no copy, no Engine.IO queue.
        std::size_t j = i + 1;
        while (j < bufs.size() && sio::is_sio_ws_frame(view(bufs[j]))) ++j;
        bool full = false, failed = false;
        std::size_t taken = c->write_direct(bufs.subspan(i, j - i), full, failed);
        if (failed) {
          st = io_status::failed;
          break;
        }
        for (std::size_t k = i; k < i + taken; ++k) total += bufs[k].size();
        i += taken;
        if (full) {
          st = io_status::would_block;  // woken by ws_drained
          break;
        }
        continue;
      }
      // Polling, upgrading, or behind something queued: the packet goes through the session.
      std::string_view packet = sio::is_sio_ws_frame(text) ? sio::sio_frame_packet(text) : text;
      if ((total > 0 && c->backlog() >= c->backlog_limit()) || !c->send(std::string(packet))) {
        st = io_status::would_block;
        queued = true;  // the pump drains the session and wakes this carrier
        break;
      }
      queued = true;
      total += text.size();
      ++i;
    }
    if (queued) c->schedule_pump();
    return total;
  }
  std::size_t read(std::span<char> into, io_status& st) override {
    st = io_status::ok;
    auto c = conn_.lock();
    if (!c || disowned_) return 0;
    if (auto m = c->take_inbound()) {
      std::size_t n = std::min(m->size(), into.size());  // sio_conn keeps them below it
      std::copy_n(m->data(), n, into.data());
      return n;
    }
    if (c->ended()) return 0;
    st = io_status::would_block;
    return 0;
  }
  void wait_writable() override {
    want_write_ = true;
    if (disowned_) wake(true, false, true);
  }
  void wait_readable() override {
    want_read_ = true;
    if (disowned_) return wake(false, true, true);
    if (auto c = conn_.lock()) c->schedule_pump();  // input may already be there
  }
  void shutdown_send() override {}
  void close() override {
    if (disowned_) return;
    if (auto c = conn_.lock()) c->server_close();
  }

  // From sio_conn::notify_carrier (owner thread): wake the push session, a task later.
  void wake(bool writable, bool readable, bool ok) {
    if (!owner_) return;
    auto self = owner_->shared_from_this();
    if (writable && want_write_) {
      want_write_ = false;
      asio::post(owner_host_io(), [self, g = gen_, ok] { self->on_writable(g, ok); });
    }
    if (readable && want_read_) {
      want_read_ = false;
      asio::post(owner_host_io(), [self, g = gen_, ok] { self->on_readable(g, ok); });
    }
  }
  void set_io(asio::io_context& io) { io_ = &io; }

 private:
  asio::io_context& owner_host_io() { return *io_; }
  std::weak_ptr<sio_conn> conn_;
  push_session* owner_ = nullptr;
  std::uint64_t gen_ = 0;
  asio::io_context* io_ = nullptr;
  bool want_write_ = false;
  bool want_read_ = false;
  bool disowned_ = false;
};

// ---- deadlines ------------------------------------------------------------------

// One timer per I/O thread for the deadlines of all its Engine.IO sessions (heartbeat pings
// and pong timeouts, upgrade, connect and close timeouts): an Asio service of the thread's
// io_context, so it lives and dies with it. Each session is in the heap at its earliest
// deadline; the timer is armed at the heap's. Only the owner thread touches it.
class sio_deadlines final : public asio::io_context::service {
 public:
  static asio::io_context::id id;
  explicit sio_deadlines(asio::io_context& io) : asio::io_context::service(io), io_(io) {}

  // `c` wants on_deadline at `at` (time_point::max(): never).
  void schedule(sio_conn& c, eio_clock::time_point at) {
    if (at == eio_clock::time_point::max()) return heap_.cancel(c);
    if (heap_.due(c) == at) return;
    heap_.schedule(c, at);
    arm();
  }
  void cancel(sio_conn& c) { heap_.cancel(c); }

 private:
  void shutdown() override {
    heap_.clear();
    timer_.reset();
  }
  void arm() {
    auto next = heap_.next();
    if (!next || *next >= armed_) return;  // the timer fires earlier anyway
    if (!timer_) timer_.emplace(io_);
    armed_ = *next;
    timer_->expires_at(armed_);
    timer_->async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // re-armed earlier (that wait is pending) or shut down
      armed_ = eio_clock::time_point::max();
      on_timer();
    });
  }
  void on_timer() {
    auto now = eio_clock::now();
    // Take every due session out first: handling one may schedule it again, even at once.
    while (auto* c = heap_.pop_due(now)) due_.push_back(c->shared_from_this());
    for (auto& c : due_) c->on_deadline(now);
    due_.clear();
    if (due_.capacity() > 256) std::vector<std::shared_ptr<sio_conn>>().swap(due_);
    arm();
  }

  asio::io_context& io_;
  std::optional<asio::steady_timer> timer_;
  eio_clock::time_point armed_ = eio_clock::time_point::max();
  sio::deadline_heap<sio_conn, &sio_conn::deadline_, eio_clock> heap_;
  std::vector<std::shared_ptr<sio_conn>> due_;
};

asio::io_context::id sio_deadlines::id;

sio_conn::sio_conn(shard& owner, sio_service& svc, sio_start who)
    : owner_(owner),
      svc_(svc),
      who_(std::move(who)),
      deadlines_(asio::use_service<sio_deadlines>(owner.io())) {}

sio_conn::~sio_conn() {
  // Normally out of the heap since it ended (on the owner thread); a session dropped
  // without ending (the registry cleared at exit) leaves it here.
  if (deadline_.scheduled()) deadlines_.cancel(*this);
  if (connect_claim_) connect_claim_->drop();
  if (counted_) global_metrics().sio_sessions[gauge_index()].add(-1);
}

void sio_conn::notify_carrier() {
  if (!carrier_) return;
  bool gone = ended();
  bool writable = gone || backlog() <= backlog_limit() / 2;
  bool readable = gone || !inbound_.empty();
  carrier_->wake(writable, readable, true);
}

void sio_conn::pump() {
  if (!eio_) return;
  auto self = shared_from_this();
  for (;;) {
    auto outs = eio_->take_outputs();
    if (outs.empty()) break;
    for (auto& o : outs) {
      using kind = sio::eio_output::kind;
      switch (o.what) {
        case kind::respond: {
          auto it = std::find_if(polls_.begin(), polls_.end(),
                                 [&](const sio_poll& p) { return p.carrier == o.carrier; });
          if (it == polls_.end()) break;
          sio_poll req = std::move(*it);
          drop_poll(o.carrier);
          if (o.status >= 400) global_metrics().sio_garbage.add();  // Engine.IO refused it
          asio::post(req.from->io(), [h = std::move(req.http), c = o.carrier, status = o.status,
                                      type = o.content_type, body = std::move(o.body),
                                      cors = std::move(req.cors)]() mutable {
            if (auto s = h.lock()) s->sio_answer(c, status, type, std::move(body), std::move(cors));
          });
          break;
        }
        case kind::ws_text:
        case kind::ws_binary:
          if (ws_ && ws_->id() == o.carrier) ws_->send(o.what == kind::ws_text ? 0x1 : 0x2, o.body);
          break;
        case kind::ws_close:
          if (ws_ && ws_->id() == o.carrier) {
            ws_->close();
            ws_.reset();
          }
          break;
        case kind::deliver:
          on_message(o.message);
          break;
        case kind::closed:
          if (!ended_) {
            ended_ = true;
            if (connect_claim_) connect_claim_->drop();  // its answer has nobody to go to
            connect_claim_.reset();
            svc_.registry.erase(eio_->sid(), this);
            if (ws_) ws_->close();
            ws_.reset();
          }
          break;
      }
    }
  }
  // The transport gauge follows the upgrade.
  bool on_ws = eio_->active_transport() == sio::transport::websocket;
  if (counted_ && on_ws != ws_gauge_) {
    global_metrics().sio_sessions[gauge_index()].add(-1);
    ws_gauge_ = on_ws;
    global_metrics().sio_sessions[gauge_index()].add(1);
    if (on_ws) global_metrics().sio_upgrades.add();
  }
  if (ended_ && counted_) {
    counted_ = false;
    global_metrics().sio_sessions[gauge_index()].add(-1);
  }
  notify_carrier();
  arm_timer();
}

void sio_conn::arm_timer() {
  // The connect timeout counts only while the session is open (closing, it has its own).
  bool connect_due = !connected_ && eio_->open();
  auto at = ended_ ? eio_clock::time_point::max()
                   : std::min(eio_->next_deadline(),
                              connect_due ? connect_deadline_ : eio_clock::time_point::max());
  deadlines_.schedule(*this, at);
}

void sio_conn::on_deadline(eio_clock::time_point now) {
  if (ended_ || !eio_) return;
  if (!connected_ && now >= connect_deadline_ && eio_->open())
    eio_->close(now);  // no CONNECT in time (the reference server's connectTimeout)
  eio_->on_tick(now);
  pump();
}

void sio_conn::on_message(const sio::eio_packet& m) {
  // The reader lives only while a packet is being read (a binary one waits for its
  // attachments): an idle session holds no reader and no copy of its CONNECT.
  if (!reader_) reader_ = std::make_unique<sio::sio_reader>();
  switch (reader_->feed(m.binary, m.data)) {
    case sio::sio_reader::status::need_more:
      return;
    case sio::sio_reader::status::error:
      reader_.reset();
      return garbage();
    case sio::sio_reader::status::packet: {
      auto done = std::move(reader_);  // a message handled inside gets a reader of its own
      return on_packet(done->packet());
    }
  }
}

void sio_conn::on_packet(sio::sio_packet& p) {
  using sio::sio_type;
  if (p.type == sio_type::connect) {
    if (p.nsp != "/") {
      global_metrics().sio_refused_connect.add();
      return send_now(
          sio_text(sio_type::connect_error, R"({"message":"Invalid namespace"})", p.nsp));
    }
    if (connected_) return garbage();  // a second CONNECT: invalid state
    return on_connect(p);
  }
  if (p.nsp != "/" || !connected_) return garbage();  // not joined: invalid state
  switch (p.type) {
    case sio_type::disconnect:
      // The client left "/": its push session ends, the Engine.IO session stays (it may
      // CONNECT again) until the connect timeout, as the reference server does.
      connected_ = false;
      connect_deadline_ = eio_clock::now() + svc_.connect_timeout;
      inbound_.clear();
      if (connect_claim_) connect_claim_->drop();  // a recovery read still queued: not needed
      connect_claim_.reset();
      if (carrier_) carrier_->disown();
      return;
    case sio_type::event:
      if (!push_ || p.data.size() + 8 > owner_.scratch().size() || inbound_.size() >= kMaxInbound) {
        global_metrics().sio_ignored_events.add();
        return;
      }
      inbound_.push_back(sio::encode_sio(p));
      return;
    case sio_type::binary_event:
      global_metrics().sio_ignored_events.add();
      return;
    case sio_type::ack:
    case sio_type::binary_ack:
      return;  // Cutover asks for no acks
    default:
      return garbage();
  }
}

void sio_conn::on_connect(const sio::sio_packet& p) {
  auto& m = global_metrics();
  const boost::json::object* auth = p.json.is_object() ? &p.json.get_object() : nullptr;
  auto field = [&](std::string_view k) -> const boost::json::value* {
    return auth ? auth->if_contains(boost::json::string_view(k.data(), k.size())) : nullptr;
  };
  const auto& ctx = owner_.ctx();
  if (who_.user.empty()) {
    // Token mode, no token in the handshake: auth.token must carry it.
    const auto* tok = field("token");
    auth_outcome id;
    if (tok && tok->is_string()) {
      std::string bearer = "Bearer " + std::string(tok->get_string());
      credentials cr;
      cr.authorization = bearer;
      id = ctx.auth->identify(cr, std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
    } else {
      id.status = 401;
    }
    if (!id.ok()) {
      m.sio_refused_connect.add();
      m.unauthorized.add();
      return send_now(refusal("unauthorized", 401));
    }
    who_.user = std::move(id.user);
  }
  // Start position: a Cutover pid's offset, auth.since, ?since=, else live.
  std::optional<cursor> since;
  std::string pid;
  const auto* pidv = field("pid");
  const auto* offv = field("offset");
  if (pidv && pidv->is_string() && offv && offv->is_string() &&
      std::string_view(pidv->get_string()).starts_with(kSioPidPrefix)) {
    if (auto c = parse_cursor(std::string_view(offv->get_string()))) {
      since = c;
      pid = std::string(pidv->get_string());
    }
  }
  if (!since) {
    if (const auto* s = field("since"); s && !s->is_null()) {
      std::string text;
      if (s->is_string())
        text = std::string(s->get_string());
      else if (s->is_uint64())
        text = std::to_string(s->get_uint64());
      else if (s->is_int64() && s->get_int64() >= 0)
        text = std::to_string(s->get_int64());
      since = text.empty() ? std::nullopt : parse_cursor(text);
      if (!since) {
        m.sio_refused_connect.add();
        m.bad_requests.add();
        return send_now(refusal("malformed since", 400));
      }
    } else {
      since = who_.query_since;
    }
  }
  connected_ = true;
  if (pid.empty()) return start_push(since, {});
  // Recovery: the pid is echoed (socket.recovered) only when nothing was pruned since.
  // The read carries a claim like every store read: the session ending or the client
  // leaving "/" drops it, and a read still queued then is skipped before it touches SQLite.
  auto topics = ctx.topics_for(who_.user);
  auto claim = std::make_shared<read_claim>();
  connect_claim_ = claim;
  auto decide = [w = weak_from_this(), since, pid, claim](const fetch_result& r) {
    auto self = w.lock();
    // Not for this CONNECT any more: the session ended, or the client left and came back.
    if (!self || self->ended() || self->connect_claim_ != claim) return;
    self->connect_claim_.reset();
    if (r.skipped) return;  // only a dropped claim skips, and that resets connect_claim_
    self->start_push(since, r.expired ? std::string() : pid);
  };
  auto later = [decide, io = &owner_.io()](fetch_result res) {
    asio::post(*io, [decide, res = std::move(res)] { decide(res); });
  };
  if (auto now = owner_.host().fetch(topics, since->after, 1, later, claim)) decide(*now);
}

void sio_conn::start_push(std::optional<cursor> since, std::string pid) {
  if (!eio_->open()) return;
  if (pid.empty()) pid = std::string(kSioPidPrefix) + sio::make_sid();
  std::string ack = sio_text(sio::sio_type::connect,
                             R"({"sid":")" + sio::make_sid() + R"(","pid":")" + pid + "\"}");
  const auto& ctx = owner_.ctx();
  auto carrier = std::make_unique<eio_carrier>(weak_from_this());
  carrier->set_io(owner_.io());
  push_ = std::make_shared<push_session>(owner_.host(), std::move(carrier),
                                         std::make_unique<sio_codec>(std::move(ack)),
                                         push_identity{who_.user, ctx.topics_for(who_.user)});
  push_->start(since);
  schedule_pump();
}

// ---- WebSocket I/O ------------------------------------------------------------

void sio_ws::start(std::weak_ptr<sio_conn> conn, std::string head, std::string leftover) {
  conn_ = std::move(conn);
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  queue(std::move(head));
  if (!leftover.empty()) feed(leftover.data(), leftover.size());
  arm_read();
}

void sio_ws::write() {
  if (closed_ || tx_.empty()) return;
  writing_ = true;
  std::vector<asio::const_buffer> bufs;
  in_flight_ = std::min<std::size_t>(tx_.size(), 64);
  for (std::size_t i = 0; i < in_flight_; ++i) bufs.emplace_back(asio::buffer(tx_[i]));
  asio::async_write(socket_, bufs,
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (self->closed_) return;
                      if (ec) return self->gone();
                      for (std::size_t i = 0; i < self->in_flight_; ++i) {
                        self->tx_bytes_ -= self->tx_.front().size();
                        self->tx_.pop_front();
                      }
                      self->in_flight_ = 0;
                      if (!self->tx_.empty()) return self->write();
                      if (self->close_queued_) {
                        boost::system::error_code ignored;
                        self->socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
                        self->closed_ = true;
                        self->socket_.close(ignored);
                        return;
                      }
                      if (auto c = self->conn_.lock()) c->ws_drained();
                    });
}

void sio_ws::arm_read() {
  if (closed_) return;
  socket_.async_wait(
      asio::ip::tcp::socket::wait_read,
      [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
}

void sio_ws::on_readable(boost::system::error_code ec) {
  if (closed_) return;
  if (ec) return gone();
  auto c = conn_.lock();
  if (!c) return gone();
  auto buf = c->owner().scratch();
  for (;;) {
    boost::system::error_code rec;
    std::size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) break;
    if (rec || n == 0) return gone();
    feed(buf.data(), n);
    if (closed_) return;
    if (n < buf.size()) break;
  }
  arm_read();
}

void sio_ws::feed(const char* data, std::size_t n) {
  auto c = conn_.lock();
  bool peer_close = false;
  auto res = parser_.feed(data, n, [&](ws::opcode op, std::string_view payload) {
    switch (op) {
      case ws::opcode::text:
      case ws::opcode::binary:
        if (c && !close_queued_) c->on_ws_frame(id_, op == ws::opcode::binary, payload);
        break;
      case ws::opcode::ping:
        send(0xA, payload);
        break;
      case ws::opcode::close:
        peer_close = true;
        break;
      default:
        break;
    }
  });
  if (res.close) {
    global_metrics().sio_garbage.add();
    close(res.close);
    return gone();
  }
  if (peer_close) {
    close();
    gone();
  }
}

void sio_ws::gone() {
  if (auto c = conn_.lock()) {
    conn_.reset();
    c->on_gone(id_);
  }
  if (!close_queued_ || !writing_) {
    closed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
}

// ---- entry points -------------------------------------------------------------

namespace {
std::shared_ptr<sio_conn> create(shard& sh, sio_service& svc, sio_start who, sio::transport t,
                                 carrier_id first) {
  return svc.registry.create([&](const std::string& sid) {
    auto c = std::make_shared<sio_conn>(sh, svc, std::move(who));
    c->begin(sid, t, first);
    return c;
  });
}
}  // namespace

std::shared_ptr<sio_conn> sio_handshake(shard& sh, sio_service& svc, sio_start who, sio_poll req) {
  auto c = create(sh, svc, std::move(who), sio::transport::polling, req.carrier);
  // The open packet is the session's first output, answered the usual way (posted).
  if (c) c->on_poll_open(std::move(req));
  return c;
}

void sio_poll_request(const std::shared_ptr<sio_conn>& c, sio_poll req) {
  asio::post(c->owner().io(), [c, req = std::move(req)]() mutable { c->on_poll(std::move(req)); });
}

void sio_carrier_gone(const std::shared_ptr<sio_conn>& c, std::uint64_t carrier) {
  asio::post(c->owner().io(), [c, carrier] { c->on_gone(carrier); });
}

void sio_websocket_new(shard& sh, sio_service& svc, asio::ip::tcp::socket socket,
                       std::string accept_key, sio_start who, std::string leftover) {
  carrier_id id = svc.next_carrier();
  auto ws = std::make_shared<sio_ws>(std::move(socket), svc.eio.max_payload, id);
  auto c = create(sh, svc, std::move(who), sio::transport::websocket, id);
  std::string head = ws_101(accept_key);
  if (!c) {
    global_metrics().overload_rejections.add();
    ws->start({}, std::move(head), {});
    ws->close(ws::close_code::try_again_later);
    return;
  }
  ws->start(c, std::move(head), {});
  c->on_ws_open(ws);
  if (!leftover.empty()) ws->take_leftover(std::move(leftover));
}

bool sio_websocket_upgrade(const std::shared_ptr<sio_conn>& c, asio::ip::tcp::socket socket,
                           std::string accept_key, std::string leftover) {
  boost::system::error_code ec;
  auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) return false;
  int fd = socket.release(ec);
  if (ec) return false;
  asio::post(c->owner().io(), [c, fd, protocol, key = std::move(accept_key),
                               leftover = std::move(leftover)]() mutable {
    boost::system::error_code e;
    asio::ip::tcp::socket s(c->owner().io());
    s.assign(protocol, fd, e);
    if (e) {
      ::close(fd);
      return;
    }
    auto ws = std::make_shared<sio_ws>(std::move(s), c->service().eio.max_payload,
                                       c->service().next_carrier());
    ws->start(c, ws_101(key), {});
    c->on_ws_open(ws);
    if (!leftover.empty()) ws->take_leftover(std::move(leftover));
  });
  return true;
}

}  // namespace cutover::net
