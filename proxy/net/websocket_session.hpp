#pragma once
// One WebSocket client (DESIGN §5) on one I/O thread. Frames are written from a queue of
// shared, pre-framed buffers (one serialisation per notification for every recipient),
// several per write. The cursor is the id of the last notification queued; replay,
// live delivery and slow-consumer catch-up all move it forward, so the boundary between
// them has no gap and no duplicate.
//
// Modes: `live` takes entries straight from the shard's fan-out; `catching_up` reads
// from the hub's memory or the store, page by page, as the socket drains, and turns
// live once a read comes back short with no arrival in between.

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/fetch.hpp"
#include "net/route.hpp"
#include "net/shard.hpp"
#include "net/small_queue.hpp"
#include "net/ws_protocol.hpp"

namespace cutover::net {

class websocket_session final : public connection_base,
                                public subscriber,
                                public std::enable_shared_from_this<websocket_session> {
 public:
  websocket_session(shard& sh, boost::asio::ip::tcp::socket socket, caller who,
                    std::string accept_key);
  ~websocket_session();

  // Sends the 101 response and the hello, then replays from `since` (or goes live).
  // `leftover`: bytes the client sent after its handshake request.
  void start(std::optional<cursor> since, std::string leftover);

  void on_tick(clock::time_point now) override;
  void on_shutdown() override;
  void on_entries(std::span<const notification_ptr> entries) override;

 private:
  enum class mode : std::uint8_t { live, catching_up };
  struct out_frame {
    std::shared_ptr<const std::string> bytes;
    bool notification = false;  // dropped on resume/close if not yet being written
  };

  void arm_read();
  void on_readable(boost::system::error_code ec);
  void handle_input(const char* data, std::size_t n);
  void handle_text(std::string_view text);
  void resume(const cursor& since);

  bool push_notification(const notification_ptr& n);  // false when the queue is full
  void push_control(std::string bytes);
  void flush();
  void report_queue();               // moves the global queued-bytes gauge by this session's change
  void write_now();                  // writes until the queue is empty or the socket is full
  void on_progress(std::size_t n);   // n bytes left: pop frames, refill, keep going
  void drop_unsent_notifications();  // resume/close: keep the frame on the wire and control frames

  void start_fetch();
  void on_fetched(std::uint64_t generation, fetch_result r);

  void send_error(std::string_view message);
  void begin_close(std::uint16_t code, std::string_view reason);
  void finish_close();

  shard& shard_;
  boost::asio::ip::tcp::socket socket_;
  caller who_;
  std::string accept_key_;
  ws::frame_parser parser_;
  small_queue<out_frame> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t reported_queued_ = 0;
  std::size_t written_in_front_ = 0;  // bytes of queue_.front() already on the wire

  stream_id cursor_;
  std::uint64_t fetch_gen_ = 0;
  clock::time_point last_rx_, last_ping_, last_progress_, close_deadline_;
  mode mode_ = mode::live;
  bool fetching_ = false;
  bool wake_pending_ = false;
  bool fetch_retry_ = false;
  bool reset_check_ = false;       // the next read tells whether `since` expired
  bool peer_closed_ = false;       // the client sent its close frame
  bool waiting_writable_ = false;  // the socket was full: an async_wait(write) is pending
  bool in_flush_ = false;
  bool flush_again_ = false;
  bool read_armed_ = false;
  bool closing_ = false;  // our close frame is queued; no more data frames
  bool closed_ = false;   // socket closed
};

}  // namespace cutover::net
