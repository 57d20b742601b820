#include "net/websocket_session.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>

#include "core/json_text.hpp"
#include "net/user_activity.hpp"

namespace cutover::net {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxFramesPerWrite = 64;
constexpr auto kCloseGrace = std::chrono::seconds(2);

std::string text_frame(std::string_view json) {
  return make_ws_frame(0x1, json);
}

}  // namespace

websocket_session::websocket_session(shard& sh, asio::ip::tcp::socket socket, caller who,
                                     std::string accept_key)
    : shard_(sh),
      socket_(std::move(socket)),
      who_(std::move(who)),
      accept_key_(std::move(accept_key)),
      parser_(sh.ctx().opt.max_ws_message) {}

websocket_session::~websocket_session() {
  queued_bytes_ = 0;
  report_queue();
  if (!closed_) {
    shard_.unsubscribe(*this);
    shard_.untrack(*this);
    global_metrics().connections[static_cast<std::size_t>(transport::websocket)].add(-1);
  }
}

void websocket_session::start(std::optional<cursor> since, std::string leftover) {
  auto& m = global_metrics();
  shard_.track(*this);
  m.connections[static_cast<std::size_t>(transport::websocket)].add(1);
  m.requests[static_cast<std::size_t>(transport::websocket)].add();
  global_user_activity().seen(transport::websocket, who_.user);
  last_rx_ = last_ping_ = last_progress_ = clock::now();
  boost::system::error_code ec;
  socket_.non_blocking(true,
                       ec);  // reads and writes try the socket first, wait only when they must

  push_control(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      accept_key_ + "\r\n\r\n");
  accept_key_.clear();
  accept_key_.shrink_to_fit();
  // Subscribe before reading the head or replaying: anything committed from here on
  // reaches this session through the fan-out, anything before through the read.
  shard_.subscribe(*this, who_.topics);
  if (since) {
    cursor_ = since->after;
    mode_ = mode::catching_up;
    reset_check_ = true;
  } else {
    cursor_ = shard_.ctx().hub_->head().value_or(stream_id{});
    mode_ = mode::live;
  }
  std::string hello = R"({"type":"hello","cursor":")" + cursor_.str() + R"(","topics":[)";
  for (std::size_t i = 0; i < who_.topics->size(); ++i) {
    if (i) hello.push_back(',');
    json_text::append_quoted(hello, (*who_.topics)[i]);
  }
  hello += "]}";
  push_control(text_frame(hello));
  if (mode_ == mode::catching_up) start_fetch();
  flush();
  if (!leftover.empty()) handle_input(leftover.data(), leftover.size());
  arm_read();
}

// ---- reading ----------------------------------------------------------------

void websocket_session::arm_read() {
  if (read_armed_ || closed_) return;
  // A client that keeps sending while not reading our replies waits until they drain.
  if (queued_bytes_ > shard_.ctx().opt.ws_queue_bytes) return;
  read_armed_ = true;
  socket_.async_wait(
      asio::ip::tcp::socket::wait_read,
      [self = shared_from_this()](boost::system::error_code ec) { self->on_readable(ec); });
}

void websocket_session::on_readable(boost::system::error_code ec) {
  read_armed_ = false;
  if (closed_) return;
  if (ec) return finish_close();
  auto buf = shard_.scratch();
  while (!closed_) {
    boost::system::error_code rec;
    std::size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) break;
    if (rec) return finish_close();  // EOF or reset: the client is gone
    handle_input(buf.data(), n);
    if (n < buf.size()) break;
  }
  arm_read();
}

void websocket_session::handle_input(const char* data, std::size_t n) {
  last_rx_ = clock::now();
  auto res = parser_.feed(data, n, [this](ws::opcode op, std::string_view payload) {
    switch (op) {
      case ws::opcode::text:
        if (!closing_) handle_text(payload);
        break;
      case ws::opcode::binary:
        if (!closing_) send_error("binary frames are not supported; send JSON text frames");
        break;
      case ws::opcode::ping:
        if (!closing_) push_control(make_ws_frame(0xA, payload));
        break;
      case ws::opcode::pong:
        break;
      case ws::opcode::close:
        peer_closed_ = true;
        if (!closing_) {
          // Echo the peer's code (1000 when it gave none), then close.
          std::uint16_t code =
              payload.size() >= 2
                  ? static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                               static_cast<unsigned char>(payload[1]))
                  : ws::close_code::normal;
          begin_close(code, "");
        } else if (queue_.empty()) {
          finish_close();
        }
        break;
      case ws::opcode::continuation:
        break;
    }
  });
  if (res.close && !closing_) {
    global_metrics().ws_protocol_closes.add();
    begin_close(res.close, res.reason);
  }
  flush();
}

void websocket_session::handle_text(std::string_view text) {
  boost::json::error_code ec;
  auto v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  const boost::json::object* o = (!ec && v.is_object()) ? &v.get_object() : nullptr;
  const auto* type = o ? o->if_contains("type") : nullptr;
  if (!type || !type->is_string() || type->get_string() != "resume")
    return send_error(R"(unknown message; expected {"type":"resume","since":"<id or legacyId>"})");
  const auto* since = o->if_contains("since");
  std::string since_text;
  if (since && since->is_string())
    since_text = std::string(since->get_string());
  else if (since && (since->is_uint64() || (since->is_int64() && since->get_int64() >= 0)))
    since_text = since->is_uint64() ? std::to_string(since->get_uint64())
                                    : std::to_string(since->get_int64());
  else
    return send_error("resume needs a since (a stream id string or a legacyId)");
  cursor_error why;
  auto c = parse_cursor(since_text, &why);
  if (!c) return send_error(why.message);
  resume(*c);
}

void websocket_session::resume(const cursor& since) {
  drop_unsent_notifications();
  cursor_ = since.after;
  mode_ = mode::catching_up;
  reset_check_ = true;
  fetching_ = false;
  ++fetch_gen_;  // a read still in flight answers for the old cursor: ignore it
  start_fetch();
}

void websocket_session::drop_unsent_notifications() {
  small_queue<out_frame> kept;
  std::size_t kept_bytes = 0;
  std::size_t n = queue_.size();
  for (std::size_t i = 0; i < n; ++i) {
    out_frame& f = queue_[i];
    bool on_the_wire = i == 0 && written_in_front_ > 0;
    if (on_the_wire || !f.notification) {
      kept_bytes += f.bytes->size();
      kept.push_back(std::move(f));
    }
  }
  if (kept.empty()) written_in_front_ = 0;
  queue_ = std::move(kept);
  queued_bytes_ = kept_bytes;
}

void websocket_session::send_error(std::string_view message) {
  global_metrics().ws_client_errors.add();
  std::string body = R"({"type":"error","message":)";
  json_text::append_quoted(body, message);
  body.push_back('}');
  push_control(text_frame(body));
}

// ---- writing ----------------------------------------------------------------

bool websocket_session::push_notification(const notification_ptr& n) {
  const std::string& frame = ws_frame(*n);
  // Always admit one frame, however large, so progress never depends on the limit.
  if (queued_bytes_ > 0 && queued_bytes_ + frame.size() > shard_.ctx().opt.ws_queue_bytes)
    return false;
  // Aliasing pointer: shares ownership of the notification, points at its frame.
  queue_.push_back({std::shared_ptr<const std::string>(n, &frame), true});
  queued_bytes_ += frame.size();
  cursor_ = n->id;
  global_metrics().deliveries[static_cast<std::size_t>(transport::websocket)].add();
  return true;
}

void websocket_session::push_control(std::string bytes) {
  queued_bytes_ += bytes.size();
  queue_.push_back({std::make_shared<const std::string>(std::move(bytes)), false});
}

void websocket_session::report_queue() {
  if (queued_bytes_ == reported_queued_) return;
  global_metrics().ws_queued_bytes.add(static_cast<std::int64_t>(queued_bytes_) -
                                       static_cast<std::int64_t>(reported_queued_));
  reported_queued_ = queued_bytes_;
}

void websocket_session::flush() {
  // Re-entry (a refill from memory calls back in here) only asks the outer loop to go on.
  if (in_flush_) {
    flush_again_ = true;
    return;
  }
  in_flush_ = true;
  do {
    flush_again_ = false;
    write_now();
  } while (flush_again_ && !closed_);
  in_flush_ = false;
  report_queue();
}

void websocket_session::write_now() {
  while (!waiting_writable_ && !queue_.empty() && !closed_) {
    // Every queued frame goes out in one writev, straight from the socket's non-blocking
    // write: a syscall costs about the same for 8 frames as for one, and no async
    // operation is allocated unless the socket is full.
    std::array<asio::const_buffer, kMaxFramesPerWrite> bufs;
    std::size_t n = std::min(queue_.size(), kMaxFramesPerWrite);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& b = *queue_[i].bytes;
      std::size_t skip = i == 0 ? written_in_front_ : 0;
      bufs[i] = asio::const_buffer(b.data() + skip, b.size() - skip);
    }
    boost::system::error_code ec;
    std::size_t written =
        socket_.write_some(std::span<const asio::const_buffer>(bufs.data(), n), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      waiting_writable_ = true;
      socket_.async_wait(asio::ip::tcp::socket::wait_write,
                         [self = shared_from_this()](boost::system::error_code e) {
                           self->waiting_writable_ = false;
                           if (self->closed_) return;
                           if (e) return self->finish_close();
                           self->flush();
                         });
      return;
    }
    if (ec) return finish_close();
    on_progress(written);
  }
}

void websocket_session::on_progress(std::size_t n) {
  last_progress_ = clock::now();
  while (n > 0 && !queue_.empty()) {
    std::size_t size = queue_.front().bytes->size();
    std::size_t rest = size - written_in_front_;
    if (n >= rest) {
      n -= rest;
      queued_bytes_ -= size;
      written_in_front_ = 0;
      queue_.pop_front();
    } else {
      written_in_front_ += n;
      n = 0;
    }
  }
  if (closing_) {
    if (queue_.empty()) {
      boost::system::error_code ignored;
      socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      if (peer_closed_) return finish_close();
      arm_read();  // wait for the client's close or EOF (bounded by close_deadline_)
    }
    return;
  }
  const auto limit = shard_.ctx().opt.ws_queue_bytes;
  if (mode_ == mode::catching_up && !fetching_ && queued_bytes_ <= limit / 2) start_fetch();
  arm_read();
}

// ---- delivery ---------------------------------------------------------------

void websocket_session::on_entries(std::span<const notification_ptr> entries) {
  if (closing_) return;
  if (mode_ != mode::live) {
    if (fetching_) wake_pending_ = true;  // the read in flight may have missed these
    return;
  }
  for (const auto& n : entries) {
    if (!(cursor_ < n->id)) continue;
    if (!push_notification(n)) {
      // Slow consumer: stop queueing; catch up from the cursor once the socket drains.
      mode_ = mode::catching_up;
      global_metrics().ws_slow_consumer.add();
      break;
    }
  }
  flush();
}

void websocket_session::start_fetch() {
  if (closing_ || closed_ || fetching_) return;
  fetching_ = true;
  wake_pending_ = false;
  std::uint64_t gen = ++fetch_gen_;
  std::size_t page = shard_.ctx().opt.fetch_page;
  if (auto r = fetch_from_memory(shard_, who_.topics, cursor_, page))
    return on_fetched(gen, std::move(*r));
  fetch_from_store(
      shard_, who_.topics, cursor_, page,
      [self = shared_from_this(), gen](fetch_result r) { self->on_fetched(gen, std::move(r)); });
}

void websocket_session::on_fetched(std::uint64_t generation, fetch_result r) {
  if (generation != fetch_gen_ || closed_ || closing_) return;
  fetching_ = false;
  if (r.failed) {
    shard_.ctx().store_read_failures.line("websocket: store read failed: " + r.error +
                                          "; retrying");
    fetch_retry_ = true;  // the next sweep tick tries again
    return;
  }
  if (reset_check_) {
    reset_check_ = false;
    if (r.expired) {
      std::string body =
          R"({"type":"reset","oldest":")" + r.oldest.value_or(cursor_).str() + R"("})";
      push_control(text_frame(body));
    }
  }
  bool full = false;
  for (const auto& n : r.entries) {
    if (!(cursor_ < n->id)) continue;
    if (!push_notification(n)) {
      full = true;
      break;
    }
  }
  bool more = full || r.entries.size() >= shard_.ctx().opt.fetch_page || wake_pending_;
  if (!more) {
    mode_ = mode::live;  // the read came back short and nothing arrived meanwhile
  } else if (queued_bytes_ <= shard_.ctx().opt.ws_queue_bytes / 2) {
    start_fetch();
  }
  flush();
}

// ---- closing and timers -----------------------------------------------------

void websocket_session::begin_close(std::uint16_t code, std::string_view reason) {
  if (closing_ || closed_) return;
  closing_ = true;
  shard_.unsubscribe(*this);
  drop_unsent_notifications();
  push_control(ws::close_frame(code, reason));
  close_deadline_ = clock::now() + kCloseGrace;
  flush();
}

void websocket_session::finish_close() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  shard_.unsubscribe(*this);
  boost::system::error_code ec;
  socket_.close(ec);
  shard_.untrack(*this);
  global_metrics().connections[static_cast<std::size_t>(transport::websocket)].add(-1);
  queue_.clear();
  queued_bytes_ = 0;
  report_queue();
}

void websocket_session::on_tick(clock::time_point now) {
  if (closed_) return;
  const auto& opt = shard_.ctx().opt;
  if (closing_) {
    if (now >= close_deadline_) finish_close();
    return;
  }
  if (waiting_writable_ && now - last_progress_ > opt.stall_timeout) {
    global_metrics().ws_stalled_closes.add();
    begin_close(ws::close_code::try_again_later, "no progress; resume with your cursor");
    return;
  }
  if (read_armed_ && now - last_rx_ > opt.ws_silence_timeout) {
    global_metrics().ws_idle_closes.add();
    begin_close(ws::close_code::going_away, "no traffic from the client");
    return;
  }
  if (now - last_ping_ >= opt.ws_ping_interval) {
    last_ping_ = now;
    push_control(make_ws_frame(0x9, ""));
    flush();
  }
  if (fetch_retry_ && !fetching_) {
    fetch_retry_ = false;
    start_fetch();
  }
}

void websocket_session::on_shutdown() {
  begin_close(ws::close_code::going_away, "server shutting down");
}

}  // namespace cutover::net
