#pragma once
// One push client (DESIGN §5, §6) on one I/O thread, whatever its wire: the delivery
// engine every push transport shares. A transport supplies only a `codec` (what hello,
// a notification, reset, keepalive and the end look like on its wire, and what the
// client's bytes mean); the bytes move over a `carrier` (a TCP socket today; a test's
// in-memory pipe; an Engine.IO polling response later); the I/O thread it runs on is its
// `session_host` (subscriptions, the sweep, reads of history).
//
// The cursor is the id of the last notification queued; replay, live delivery and
// slow-consumer catch-up all move it forward, so the boundary between them has no gap
// and no duplicate. Modes: `live` takes entries straight from the host's fan-out;
// `catching_up` reads from the hub's memory or the store, page by page, as the carrier
// drains, and turns live once a read comes back short with no arrival in between.
// The send queue holds shared, pre-rendered frames (one rendering per notification for
// every recipient), is bounded by `session_limits::queue_bytes`, and goes out several
// frames per write.
//
// How a new transport plugs in (Socket.IO next):
//  1. a `codec` subclass: `open` (the bytes that precede the hello, e.g. an HTTP head),
//     `hello`, `notification` (render into the transport's `wire_slot`, so it is shared),
//     `reset`, `keepalive`, `end`, and `feed` (client bytes -> `codec_events`);
//  2. a route that authenticates and checks the cursor before the session starts, then
//     `std::make_shared<push_session>(host, carrier, codec, who)->start(since, leftover)`;
//  3. one row in the transport table (net/metrics.cpp).
// A transport whose client changes connection (Engine.IO: polling GETs, then an upgrade
// to WebSocket) calls `detach()` on the old connection's thread and `attach()` on the
// new one's: the session, its cursor and its queued control frames move; unsent
// notifications are read again from the cursor, so nothing is lost or repeated.

#include <boost/asio/buffer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/notification.hpp"
#include "net/fetch.hpp"
#include "net/metrics.hpp"
#include "net/shard.hpp"
#include "net/small_queue.hpp"

namespace cutover::net {

class push_session;

// Why a session ends; a codec says it in its own terms (WebSocket close code, SSE's end).
enum class end_reason : std::uint8_t {
  peer_closed,  // the client started closing (`code`: what it sent)
  protocol,     // the client broke the protocol (`code`: which rule)
  stalled,      // no progress for --stall-timeout
  idle,         // the client was silent past the codec's silence timeout
  shutdown,     // SIGTERM
};

// What a codec reports while it reads the client's bytes (called from `codec::feed`).
class codec_events {
 public:
  virtual void resume(const cursor& since) = 0;  // re-read from there
  virtual void reply(std::string bytes) = 0;     // a control answer: pong, error frame
  virtual void peer_closing(std::uint16_t code) = 0;
  virtual void violation(std::uint16_t code, std::string_view reason) = 0;
  virtual bool closing() const = 0;  // our end is queued: data messages are ignored

 protected:
  ~codec_events() = default;
};

// A transport's wire. Everything but `feed` returns bytes the session queues as they are.
class codec {
 public:
  virtual ~codec() = default;
  virtual transport kind() const = 0;
  // Bytes before the hello (101 response, HTTP head); called once, at start.
  virtual std::string open() = 0;
  // `cursor`: where the session starts after; `at_stream_id`: the start position is a
  // stream id (given as one, or the newest id when live), not a legacyId.
  virtual std::string hello(stream_id cursor, bool at_stream_id,
                            const std::vector<std::string>& topics) = 0;
  // The rendering every recipient of `n` shares; owned by `n` (see notification::rendered).
  virtual const std::string& notification(const cutover::notification& n) = 0;
  virtual std::string reset(stream_id oldest) = 0;
  virtual std::string keepalive() = 0;
  virtual std::string end(end_reason why, std::uint16_t code, std::string_view text) = 0;
  virtual void feed(const char* data, std::size_t n, codec_events& ev) = 0;

  virtual std::chrono::milliseconds keepalive_interval() const = 0;
  // true: keepalive only after that long with nothing sent (SSE comments); false: every
  // interval whatever was sent (WebSocket pings, which also ask the peer for a pong).
  virtual bool keepalive_when_idle() const = 0;
  // The client must send something this often (nullopt: it never has to).
  virtual std::optional<std::chrono::milliseconds> silence_timeout() const = 0;
};

// Where the bytes go. Non-blocking; the session asks to be woken when it must wait.
enum class io_status : std::uint8_t { ok, would_block, failed };
class carrier {
 public:
  virtual ~carrier() = default;
  // Called by push_session on attach: wake-ups go to `s` with this generation.
  virtual void bind(push_session& s, std::uint64_t generation) = 0;
  virtual std::size_t write(std::span<const boost::asio::const_buffer> bufs, io_status& st) = 0;
  virtual std::size_t read(std::span<char> into, io_status& st) = 0;  // 0 + ok: end of input
  virtual void wait_writable() = 0;  // later, once: push_session::on_writable(generation, ok)
  virtual void wait_readable() = 0;  // later, once: push_session::on_readable(generation, ok)
  virtual void shutdown_send() = 0;  // after the last byte of the end
  virtual void close() = 0;
};

struct session_limits {
  std::size_t queue_bytes = 256 * 1024;
  std::size_t fetch_page = 256;
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(30)};
};

// The I/O thread a session runs on. Every call, and every callback it makes, is on that
// thread. `net::shard::host()` is the real one.
class session_host {
 public:
  virtual const session_limits& limits() const = 0;
  virtual void subscribe(push_session& s, topic_list topics) = 0;
  virtual void unsubscribe(push_session& s) = 0;
  virtual void track(push_session& s) = 0;  // ticks and shutdown reach it
  virtual void untrack(push_session& s) = 0;
  virtual std::optional<stream_id> head() const = 0;
  // Entries of `topics` after `after`: returned at once when memory holds them, else
  // nullopt and `later` runs on this thread with the store's answer (`skipped` when the
  // session dropped `claim` before the read began).
  virtual std::optional<fetch_result> fetch(const topic_list& topics, stream_id after,
                                            std::size_t limit,
                                            std::function<void(fetch_result)> later,
                                            read_claim_ptr claim) = 0;
  virtual void read_failed(std::string_view why) = 0;  // rate-limited log
  virtual std::span<char> scratch() = 0;               // the thread's read buffer

 protected:
  ~session_host() = default;
};

// Who the session serves (resolved before it starts).
struct push_identity {
  std::string user;
  topic_list topics;
};

class push_session final : public connection_base,
                           public subscriber,
                           private codec_events,
                           public std::enable_shared_from_this<push_session> {
 public:
  push_session(session_host& host, std::unique_ptr<carrier> c, std::unique_ptr<codec> k,
               push_identity who);
  ~push_session();
  push_session(const push_session&) = delete;
  push_session& operator=(const push_session&) = delete;

  // Queues open() and the hello, then replays from `since` (or goes live).
  // `leftover`: client bytes already read with its request.
  void start(std::optional<cursor> since, std::string_view leftover = {});

  // Leaves the carrier and host (on the host's thread); returns the carrier. Unsent
  // notifications are dropped and the cursor goes back to the last one the carrier took
  // whole; queued control frames stay. False/nullptr when closed.
  std::unique_ptr<carrier> detach();
  // Joins `host` with `c` (on that host's thread) and reads on from the cursor. A new
  // codec may be given only when nothing is queued (drained()); returns false otherwise.
  bool attach(session_host& host, std::unique_ptr<carrier> c, std::unique_ptr<codec> k = nullptr);

  // Wake-ups from the carrier; a stale generation (an older carrier) is ignored.
  void on_writable(std::uint64_t generation, bool ok);
  void on_readable(std::uint64_t generation, bool ok);

  void on_tick(clock::time_point now) override;
  void on_shutdown() override;
  void on_entries(std::span<const notification_ptr> entries) override;
  void on_lost(stream_id after, stream_id through) override;

  // Observers, for tests and metrics.
  enum class mode : std::uint8_t { live, catching_up };
  mode current_mode() const noexcept { return mode_; }
  stream_id cursor_position() const noexcept { return cursor_; }
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  bool drained() const noexcept { return queue_.empty(); }
  bool closed() const noexcept { return closed_; }
  bool attached() const noexcept { return carrier_ != nullptr; }

 private:
  struct out_frame {
    std::shared_ptr<const std::string> bytes;
    stream_id id;               // notifications: its id
    bool notification = false;  // dropped on resume/close/detach if not yet being written
    bool live = false;          // queued from the fan-out (delivery latency's `live` label)
  };

  // codec_events
  void resume(const cursor& since) override;
  void reply(std::string bytes) override;
  void peer_closing(std::uint16_t code) override;
  void violation(std::uint16_t code, std::string_view reason) override;
  bool closing() const override { return closing_; }

  std::size_t idx() const noexcept { return static_cast<std::size_t>(kind_); }
  void arm_read();
  void handle_input(const char* data, std::size_t n);
  bool push_notification(const notification_ptr& n, bool live);  // false when the queue is full
  void push_control(std::string bytes);
  void flush();
  void report_queue();
  void write_now();
  void on_progress(std::size_t n);
  void drop_unsent_notifications();
  void start_fetch();
  void on_fetched(std::uint64_t generation, fetch_result r);
  void begin_close(end_reason why, std::uint16_t code, std::string_view text);
  void finish_close();

  session_host* host_;
  std::unique_ptr<carrier> carrier_;
  std::unique_ptr<codec> codec_;
  push_identity who_;
  transport kind_;
  small_queue<out_frame> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t reported_queued_ = 0;
  std::size_t written_in_front_ = 0;  // bytes of queue_.front() already taken by the carrier

  stream_id cursor_;       // last notification queued
  stream_id sent_cursor_;  // last notification the carrier took whole
  std::uint64_t fetch_gen_ = 0;
  std::uint64_t carrier_gen_ = 0;
  clock::time_point last_rx_, last_ping_, last_sent_, last_progress_, close_deadline_;
  mode mode_ = mode::live;
  bool fetching_ = false;
  // The read in flight's claim: dropped when its answer can no longer be used (close,
  // detach, a resume that replaces it), so a read still queued never touches the store.
  read_claim_ptr claim_;
  void drop_claim();
  // A resume while a read is in flight: that read's answer is for the old cursor and is
  // dropped, then one read from the newest cursor follows. So a session has at most one
  // store read in flight however many resumes it sends (they coalesce).
  bool refetch_ = false;
  // Resumes in the current one-second window; past kResumesPerSecond the session is closed
  // (1008): each resume is a store read, and a client has no reason to send more.
  static constexpr int kResumesPerSecond = 20;
  clock::time_point resume_window_{};
  int resumes_in_window_ = 0;
  // Losses Redis reported while a read was in flight (their union; out of line, as it is
  // rare): that read may predate the loss, so its answer is used only up to the range.
  std::unique_ptr<std::pair<stream_id, stream_id>> lost_in_read_;
  bool wake_pending_ = false;
  bool fetch_retry_ = false;
  bool reset_check_ = false;       // the next read tells whether `since` expired
  bool peer_closed_ = false;       // the client sent its close
  bool waiting_writable_ = false;  // the carrier was full: a wake-up is pending
  bool in_flush_ = false;
  bool flush_again_ = false;
  bool read_armed_ = false;
  bool closing_ = false;  // our end is queued; no more data frames
  bool closed_ = false;   // carrier closed
  bool counted_ = false;  // counted in the connection gauge
};

// The §5 frames as JSON, the same text on every transport.
std::string hello_json(stream_id cursor, const std::vector<std::string>& topics);
std::string reset_json(stream_id oldest);
std::string error_json(std::string_view message);

}  // namespace cutover::net
