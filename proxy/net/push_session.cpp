#include "net/push_session.hpp"

#include <algorithm>
#include <array>

#include "core/json_text.hpp"
#include "net/user_activity.hpp"

namespace cutover::net {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxFramesPerWrite = 64;
constexpr auto kCloseGrace = std::chrono::seconds(2);

}  // namespace

std::string hello_json(stream_id cursor, const std::vector<std::string>& topics) {
  std::string hello = R"({"type":"hello","cursor":")" + cursor.str() + R"(","topics":[)";
  for (std::size_t i = 0; i < topics.size(); ++i) {
    if (i) hello.push_back(',');
    json_text::append_quoted(hello, topics[i]);
  }
  hello += "]}";
  return hello;
}

std::string reset_json(stream_id oldest) {
  return R"({"type":"reset","oldest":")" + oldest.str() + R"("})";
}

std::string error_json(std::string_view message) {
  std::string body = R"({"type":"error","message":)";
  json_text::append_quoted(body, message);
  body.push_back('}');
  return body;
}

push_session::push_session(session_host& host, std::unique_ptr<carrier> c, std::unique_ptr<codec> k,
                           push_identity who)
    : host_(&host),
      carrier_(std::move(c)),
      codec_(std::move(k)),
      who_(std::move(who)),
      kind_(codec_->kind()) {}

push_session::~push_session() {
  queued_bytes_ = 0;
  report_queue();
  if (!closed_ && carrier_) {
    host_->unsubscribe(*this);
    host_->untrack(*this);
  }
  if (counted_) global_metrics().connections[idx()].add(-1);
}

void push_session::start(std::optional<cursor> since, std::string_view leftover) {
  auto& m = global_metrics();
  host_->track(*this);
  counted_ = true;
  m.connections[idx()].add(1);
  m.requests[idx()].add();
  global_user_activity().seen(kind_, who_.user);
  last_rx_ = last_ping_ = last_sent_ = last_progress_ = clock::now();
  carrier_->bind(*this, ++carrier_gen_);

  push_control(codec_->open());
  // Subscribe before reading the head or replaying: anything committed from here on
  // reaches this session through the fan-out, anything before through the read.
  host_->subscribe(*this, who_.topics);
  bool at_stream_id = true;
  if (since) {
    cursor_ = since->after;
    at_stream_id = since->form == cursor_form::stream_id;
    mode_ = mode::catching_up;
    reset_check_ = true;
  } else {
    cursor_ = host_->head().value_or(stream_id{});
    mode_ = mode::live;
  }
  sent_cursor_ = cursor_;
  push_control(codec_->hello(cursor_, at_stream_id, *who_.topics));
  if (mode_ == mode::catching_up) start_fetch();
  flush();
  if (!leftover.empty() && !closed_) handle_input(leftover.data(), leftover.size());
  arm_read();
}

// ---- moving between carriers ------------------------------------------------

std::unique_ptr<carrier> push_session::detach() {
  if (closed_ || !carrier_) return nullptr;
  host_->unsubscribe(*this);
  host_->untrack(*this);
  // A frame the old carrier took in part cannot be finished on another one.
  if (written_in_front_ > 0) {
    queued_bytes_ -= queue_.front().bytes->size();
    queue_.pop_front();
    written_in_front_ = 0;
  }
  drop_unsent_notifications();
  cursor_ = sent_cursor_;
  ++fetch_gen_;  // a read in flight answers for the old host: ignore it
  drop_claim();
  fetching_ = false;
  refetch_ = false;
  waiting_writable_ = false;
  read_armed_ = false;
  ++carrier_gen_;  // wake-ups the old carrier still delivers are stale
  report_queue();
  return std::move(carrier_);
}

bool push_session::attach(session_host& host, std::unique_ptr<carrier> c,
                          std::unique_ptr<codec> k) {
  if (closed_ || carrier_ || !c) return false;
  if (k) {
    if (!queue_.empty() || k->kind() != kind_) return false;
    codec_ = std::move(k);
  }
  host_ = &host;
  carrier_ = std::move(c);
  carrier_->bind(*this, ++carrier_gen_);
  host_->track(*this);
  last_rx_ = last_ping_ = last_sent_ = last_progress_ = clock::now();
  if (closing_) {
    flush();
    return true;
  }
  // Arrivals while detached reached nobody: read on from the cursor.
  host_->subscribe(*this, who_.topics);
  mode_ = mode::catching_up;
  start_fetch();
  flush();
  arm_read();
  return true;
}

// ---- reading ----------------------------------------------------------------

void push_session::arm_read() {
  if (read_armed_ || closed_ || !carrier_) return;
  // A client that keeps sending while not reading our replies waits until they drain.
  if (queued_bytes_ > host_->limits().queue_bytes) return;
  read_armed_ = true;
  carrier_->wait_readable();
}

void push_session::on_readable(std::uint64_t generation, bool ok) {
  if (generation != carrier_gen_) return;
  read_armed_ = false;
  if (closed_) return;
  if (!ok) return finish_close();
  auto buf = host_->scratch();
  while (!closed_ && carrier_) {
    io_status st = io_status::ok;
    std::size_t n = carrier_->read(buf, st);
    if (st == io_status::would_block) break;
    if (st == io_status::failed || n == 0) return finish_close();  // EOF or reset: gone
    handle_input(buf.data(), n);
    if (n < buf.size()) break;
    // Replies count against the bound: past it, read on only once they drain.
    if (queued_bytes_ > host_->limits().queue_bytes) break;
  }
  arm_read();
}

void push_session::handle_input(const char* data, std::size_t n) {
  last_rx_ = clock::now();
  codec_->feed(data, n, *this);
  flush();
}

void push_session::reply(std::string bytes) {
  if (closing_) return;
  // Notifications stop at the bound; replies (pongs, error frames) may take as much again.
  // A peer that sends more than that while not reading the answers is closed.
  if (queued_bytes_ + bytes.size() > 2 * host_->limits().queue_bytes) {
    global_metrics().protocol_closes[idx()].add();
    constexpr std::uint16_t policy_violation = 1008;  // WebSocket's; other codecs ignore it
    return begin_close(end_reason::protocol, policy_violation, "replies not read");
  }
  push_control(std::move(bytes));
}

void push_session::peer_closing(std::uint16_t code) {
  peer_closed_ = true;
  if (!closing_)
    begin_close(end_reason::peer_closed, code, "");
  else if (queue_.empty())
    finish_close();
}

void push_session::violation(std::uint16_t code, std::string_view reason) {
  if (closing_) return;
  global_metrics().protocol_closes[idx()].add();
  begin_close(end_reason::protocol, code, reason);
}

void push_session::resume(const cursor& since) {
  if (closing_) return;
  auto now = clock::now();
  if (now - resume_window_ >= std::chrono::seconds(1)) {
    resume_window_ = now;
    resumes_in_window_ = 0;
  }
  if (++resumes_in_window_ > kResumesPerSecond) {
    constexpr std::uint16_t policy_violation = 1008;  // WebSocket's; other codecs ignore it
    return violation(policy_violation, "more than 20 resumes a second");
  }
  drop_unsent_notifications();
  cursor_ = since.after;
  sent_cursor_ = cursor_;  // what the client had before does not count any more
  mode_ = mode::catching_up;
  reset_check_ = true;
  if (fetching_) {
    refetch_ = true;             // coalesced: the read in flight is dropped when it answers
    if (claim_) claim_->drop();  // and skipped if it has not begun
    return;
  }
  start_fetch();
}

// DESIGN §3: Redis lost entries this client may have been sent. A cursor inside the range
// gets the reset (oldest = the first id after the last agreed entry) and delivery goes on
// after that entry, so what Redis holds there now reaches it.
void push_session::on_lost(stream_id after, stream_id through) {
  if (closing_) return;
  if (fetching_) {
    // The read in flight may have been answered before the hub removed these entries: what
    // it returns inside the range is not used (on_fetched), and the session reads again.
    if (!lost_in_read_)
      lost_in_read_ = std::make_unique<std::pair<stream_id, stream_id>>(after, through);
    lost_in_read_->first = std::min(lost_in_read_->first, after);
    lost_in_read_->second = std::max(lost_in_read_->second, through);
  }
  if (!(after < cursor_) || through < cursor_) return;
  push_control(codec_->reset(after.next()));
  resume(cursor{after});
  flush();
}

void push_session::drop_unsent_notifications() {
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

// ---- writing ----------------------------------------------------------------

bool push_session::push_notification(const notification_ptr& n, bool live) {
  const std::string& frame = codec_->notification(*n);
  // Always admit one frame, however large, so progress never depends on the limit.
  if (queued_bytes_ > 0 && queued_bytes_ + frame.size() > host_->limits().queue_bytes) return false;
  // Aliasing pointer: shares ownership of the notification, points at its rendering.
  queue_.push_back({std::shared_ptr<const std::string>(n, &frame), n->id, true, live});
  queued_bytes_ += frame.size();
  cursor_ = n->id;
  global_metrics().deliveries[idx()].add();
  return true;
}

void push_session::push_control(std::string bytes) {
  if (bytes.empty()) return;
  queued_bytes_ += bytes.size();
  queue_.push_back({std::make_shared<const std::string>(std::move(bytes)), {}, false, false});
}

void push_session::report_queue() {
  if (queued_bytes_ == reported_queued_) return;
  global_metrics().queued_bytes[idx()].add(static_cast<std::int64_t>(queued_bytes_) -
                                           static_cast<std::int64_t>(reported_queued_));
  reported_queued_ = queued_bytes_;
}

void push_session::flush() {
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

void push_session::write_now() {
  while (carrier_ && !waiting_writable_ && !queue_.empty() && !closed_) {
    // Every queued frame goes out in one writev: a syscall costs about the same for 8
    // frames as for one, and nothing waits unless the carrier is full.
    std::array<asio::const_buffer, kMaxFramesPerWrite> bufs;
    std::size_t n = std::min(queue_.size(), kMaxFramesPerWrite);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& b = *queue_[i].bytes;
      std::size_t skip = i == 0 ? written_in_front_ : 0;
      bufs[i] = asio::const_buffer(b.data() + skip, b.size() - skip);
    }
    io_status st = io_status::ok;
    std::size_t written = carrier_->write(std::span<const asio::const_buffer>(bufs.data(), n), st);
    if (st == io_status::failed) return finish_close();
    if (written > 0) on_progress(written);
    if (st == io_status::would_block && carrier_ && !closed_) {
      waiting_writable_ = true;
      carrier_->wait_writable();
      return;
    }
  }
}

void push_session::on_writable(std::uint64_t generation, bool ok) {
  if (generation != carrier_gen_) return;
  waiting_writable_ = false;
  if (closed_) return;
  if (!ok) return finish_close();
  flush();
}

void push_session::on_progress(std::size_t n) {
  last_progress_ = last_sent_ = clock::now();
  std::uint64_t wall = 0;  // read once per write, only when a notification completed
  auto& m = global_metrics();
  while (n > 0 && !queue_.empty()) {
    std::size_t size = queue_.front().bytes->size();
    std::size_t rest = size - written_in_front_;
    if (n >= rest) {
      n -= rest;
      queued_bytes_ -= size;
      written_in_front_ = 0;
      if (const auto& f = queue_.front(); f.notification) {
        sent_cursor_ = f.id;
        if (!wall) wall = wall_ms_now();
        m.record_delivery(kind_, f.live ? delivery_kind::live : delivery_kind::replay, f.id.ms,
                          wall);
      }
      queue_.pop_front();
    } else {
      written_in_front_ += n;
      n = 0;
    }
  }
  if (closing_) {
    if (queue_.empty()) {
      carrier_->shutdown_send();
      if (peer_closed_) return finish_close();
      arm_read();  // wait for the client's close or EOF (bounded by close_deadline_)
    }
    return;
  }
  const auto limit = host_->limits().queue_bytes;
  if (mode_ == mode::catching_up && !fetching_ && queued_bytes_ <= limit / 2) start_fetch();
  arm_read();
}

// ---- delivery ---------------------------------------------------------------

void push_session::on_entries(std::span<const notification_ptr> entries) {
  if (closing_ || !carrier_) return;
  if (mode_ != mode::live) {
    if (fetching_) wake_pending_ = true;  // the read in flight may have missed these
    return;
  }
  for (const auto& n : entries) {
    if (!(cursor_ < n->id)) continue;
    if (!push_notification(n, true)) {
      // Slow consumer: stop queueing; catch up from the cursor once the carrier drains.
      mode_ = mode::catching_up;
      global_metrics().slow_consumer[idx()].add();
      break;
    }
  }
  flush();
}

void push_session::start_fetch() {
  if (closing_ || closed_ || fetching_ || !carrier_) return;
  fetching_ = true;
  wake_pending_ = false;
  lost_in_read_.reset();
  std::uint64_t gen = ++fetch_gen_;
  std::size_t page = host_->limits().fetch_page;
  claim_ = std::make_shared<read_claim>();
  auto now = host_->fetch(
      who_.topics, cursor_, page,
      [self = shared_from_this(), gen](fetch_result r) { self->on_fetched(gen, std::move(r)); },
      claim_);
  if (now) on_fetched(gen, std::move(*now));
}

void push_session::drop_claim() {
  if (claim_) claim_->drop();
  claim_.reset();
}

void push_session::on_fetched(std::uint64_t generation, fetch_result r) {
  if (generation != fetch_gen_ || closed_ || closing_) return;
  fetching_ = false;
  claim_.reset();
  if (refetch_) {  // answered for a cursor the client has moved away from since
    refetch_ = false;
    return start_fetch();
  }
  if (r.failed) {
    host_->read_failed(std::string(transport_label(kind_)) + ": store read failed: " + r.error +
                       "; retrying");
    fetch_retry_ = true;  // the next sweep tick tries again
    return;
  }
  if (r.skipped) {  // not run (only a dropped claim does that): read again on the next tick
    fetch_retry_ = true;
    return;
  }
  if (reset_check_) {
    reset_check_ = false;
    if (r.expired) push_control(codec_->reset(r.oldest.value_or(cursor_)));
    // A cursor in a range Redis lost: the entries follow the last agreed one (DESIGN §3).
    if (r.expired && r.rewound_to) cursor_ = sent_cursor_ = *r.rewound_to;
  }
  bool full = false, cut = false;
  auto lost = std::move(lost_in_read_);
  for (const auto& n : r.entries) {
    if (!(cursor_ < n->id)) continue;
    if (lost && lost->first < n->id && !(lost->second < n->id)) {
      cut = true;  // Redis lost it while this read ran: read on from before it (DESIGN §3)
      break;
    }
    if (!push_notification(n, false)) {
      full = true;
      break;
    }
  }
  const auto& lim = host_->limits();
  bool more = full || cut || r.entries.size() >= lim.fetch_page || wake_pending_;
  if (!more) {
    mode_ = mode::live;  // the read came back short and nothing arrived meanwhile
  } else if (queued_bytes_ <= lim.queue_bytes / 2) {
    start_fetch();
  }
  flush();
}

// ---- closing and timers -----------------------------------------------------

void push_session::begin_close(end_reason why, std::uint16_t code, std::string_view text) {
  if (closing_ || closed_) return;
  closing_ = true;
  drop_claim();  // its answer would be ignored: a queued read need not run
  host_->unsubscribe(*this);
  drop_unsent_notifications();
  push_control(codec_->end(why, code, text));
  close_deadline_ = clock::now() + kCloseGrace;
  flush();
}

void push_session::finish_close() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  drop_claim();
  if (carrier_) {
    host_->unsubscribe(*this);
    carrier_->close();
    host_->untrack(*this);
  }
  if (counted_) {
    counted_ = false;
    global_metrics().connections[idx()].add(-1);
  }
  queue_.clear();
  queued_bytes_ = 0;
  report_queue();
}

void push_session::on_tick(clock::time_point now) {
  if (closed_ || !carrier_) return;
  if (closing_) {
    if (now >= close_deadline_) finish_close();
    return;
  }
  auto& m = global_metrics();
  if (waiting_writable_ && now - last_progress_ > host_->limits().stall_timeout) {
    m.stalled_closes[idx()].add();
    begin_close(end_reason::stalled, 0, "no progress; resume with your cursor");
    return;
  }
  if (auto silence = codec_->silence_timeout();
      silence && read_armed_ && now - last_rx_ > *silence) {
    m.idle_closes[idx()].add();
    begin_close(end_reason::idle, 0, "no traffic from the client");
    return;
  }
  auto since =
      now - (codec_->keepalive_when_idle() ? std::max(last_ping_, last_sent_) : last_ping_);
  if (since >= codec_->keepalive_interval()) {
    last_ping_ = now;
    push_control(codec_->keepalive());
    flush();
  }
  if (fetch_retry_ && !fetching_) {
    fetch_retry_ = false;
    start_fetch();
  }
}

void push_session::on_shutdown() {
  begin_close(end_reason::shutdown, 0, "server shutting down");
}

}  // namespace cutover::net
