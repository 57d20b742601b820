#pragma once
// One Engine.IO v4 session as a state machine with no I/O (sans-IO, the way h11 or
// quinn-proto are built): the caller feeds what its carriers saw (a polling GET or POST, a
// WebSocket frame, a carrier gone, the clock) and drains what to do (answer this request,
// write this frame on that socket, close it, hand this message up, the session ended).
//
// A carrier is one HTTP request or one WebSocket connection, named by an id the caller
// chooses and never reuses. Successive polling requests of one session may arrive on
// different connections and I/O threads; the session does not care which. It is not
// thread-safe: one thread at a time drives it (its owner's shard, or under the caller's
// lock); nothing here blocks, allocates per idle tick, or reads a clock of its own.
//
// Rules (engine.io-protocol README, and the reference server where the README is silent):
// - The open packet goes to the first carrier. Polling offers the WebSocket upgrade.
// - Messages queue (bounded in bytes) and go out on the next GET, batched into one payload,
//   or one frame each on the WebSocket. A GET with nothing queued is held until something is.
// - Heartbeat: `ping_interval` after the open packet (and after each pong), a ping is queued;
//   no pong within `ping_timeout` of it closes the session ("ping timeout").
// - Two GETs at once, or two POSTs at once: the newcomer gets 400, the session closes and a
//   held GET is answered with a close packet.
// - A POST with a bad packet (or over max_payload: 413) closes the session; nothing of that
//   body is delivered. A POST with a close packet answers "ok", a held GET gets a noop (or,
//   none being held, the next GET within ping_timeout does: it was sent before the close,
//   on a connection that lost the race); then the session ends.
// - Deadlines are applied before each input: a GET that comes after the pong deadline finds
//   the session closed, whether or not the caller's timer has fired yet.
// - Upgrade: a WebSocket carrier for a polling session must send "2probe" (answered
//   "3probe", a held GET answered with a noop, later GETs answered at once) then "5" within
//   upgrade_timeout; anything else closes that carrier and the session goes on polling.
//   After the upgrade, polling requests get 400 and further WebSocket carriers are closed.
// - Server close: what is queued goes first, then a close packet (polling) or the WebSocket
//   close; a polling client that never comes back is let go after ping_timeout.
// - A carrier gone while it is the session's transport (the held GET's connection, the
//   WebSocket) ends the session ("transport close"), as the reference server does.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sio/eio_handshake.hpp"
#include "sio/eio_packet.hpp"

namespace cutover::sio {

using eio_clock = std::chrono::steady_clock;
using carrier_id = std::uint64_t;

struct eio_output {
  enum class kind {
    respond,    // answer the HTTP request `carrier`: status, content_type, body
    ws_text,    // write `body` as a text frame on `carrier`
    ws_binary,  // write `body` as a binary frame on `carrier`
    ws_close,   // close the WebSocket `carrier` (after what was written before)
    deliver,    // a message for the layer above: `message`
    closed,     // the session has ended (`body` says why): drop it from the registry
  };
  kind what = kind::respond;
  carrier_id carrier = 0;
  int status = 200;
  std::string_view content_type;  // static strings only
  std::string body;
  eio_packet message;
};

inline constexpr std::string_view kTextPlain = "text/plain; charset=UTF-8";
inline constexpr std::string_view kJson = "application/json";

class eio_session {
 public:
  // The session starts on `first`: a polling handshake GET (answered with the open packet)
  // or a WebSocket connection (the open packet is its first frame). `cfg` is kept by
  // reference (one per server, not a copy per session) and must outlive the session.
  eio_session(std::string sid, transport initial, carrier_id first, const eio_config& cfg,
              eio_clock::time_point now);

  const std::string& sid() const noexcept { return sid_; }
  const eio_config& config() const noexcept { return *cfg_; }
  transport active_transport() const noexcept { return transport_; }
  bool upgrading() const noexcept { return probe_ != 0; }
  bool closed() const noexcept { return state_ == state::closed; }
  // False once the session closes or is closing: nothing more is sent.
  bool open() const noexcept { return state_ == state::open; }
  std::size_t buffered_bytes() const noexcept { return buffered_bytes_; }
  // The session's WebSocket carrier once it is the transport (0: none).
  carrier_id websocket() const noexcept { return transport_ == transport::websocket ? ws_ : 0; }
  // True when a message may go onto websocket() directly, bypassing send() and the queue:
  // the session is open on its WebSocket (so not polling and not mid-upgrade) and nothing
  // queued or waiting in take_outputs() would be overtaken. What the caller writes so must
  // be a whole WebSocket frame of one message packet (sio_notification_frame).
  bool writable_direct() const noexcept {
    return state_ == state::open && transport_ == transport::websocket && ws_ != 0 && probe_ == 0 &&
           queue_.empty() && out_.empty();
  }

  // --- inputs from carriers
  void on_poll_get(carrier_id c, eio_clock::time_point now);
  // A POST's headers: false when the body must not be read (the request is answered).
  // content_length: nullopt when the body is chunked; its size is checked again on arrival.
  bool on_poll_post_begin(carrier_id c, std::optional<std::size_t> content_length,
                          eio_clock::time_point now);
  void on_poll_post_body(carrier_id c, std::string_view body, eio_clock::time_point now);
  // A WebSocket connection that names this sid (an upgrade from polling, or a duplicate).
  void on_ws_open(carrier_id c, eio_clock::time_point now);
  void on_ws_frame(carrier_id c, bool binary, std::string_view data, eio_clock::time_point now);
  void on_carrier_gone(carrier_id c, eio_clock::time_point now);
  void on_tick(eio_clock::time_point now);
  // When on_tick next has something to do (time_point::max(): nothing).
  eio_clock::time_point next_deadline() const noexcept;

  // --- inputs from the layer above
  // Queues a message; false (nothing queued) when it would pass max_buffered_bytes or the
  // session is closing: the caller keeps its own position and sends later.
  bool send(eio_packet message);
  bool send_text(std::string text) {
    return send(eio_packet::text(eio_type::message, std::move(text)));
  }
  bool send_binary(std::string bytes) { return send(eio_packet::bytes(std::move(bytes))); }
  // Ends the session cleanly (queued messages first).
  void close(eio_clock::time_point now);

  // What to do now, in order. Queued packets are flushed here, so messages sent between two
  // drains share one polling response.
  std::vector<eio_output> take_outputs();

 private:
  // lingering: the client closed over a POST while no GET was held; its GET may still be on
  // its way on another connection, and gets a noop instead of a 400 (then the session ends).
  enum class state { open, closing, lingering, closed };

  void expire(eio_clock::time_point now);  // deadlines up to `now`, before any input

  void respond(carrier_id c, int status, std::string_view type, std::string body);
  void refuse(carrier_id c, eio_error e);
  // Ends the session: a held GET is answered with `get_answer` (close on errors, noop when
  // the client closed), WebSockets are closed, the queue is dropped, `closed` is output.
  void end(std::string reason, eio_type get_answer);
  void on_packet(const eio_packet& p, eio_clock::time_point now);
  void on_probe_frame(carrier_id c, bool binary, std::string_view data, eio_clock::time_point now);
  void cancel_upgrade();
  void queue_control(eio_packet p);
  void flush();

  std::string sid_;
  const eio_config* cfg_;
  state state_ = state::open;
  transport transport_;
  carrier_id held_get_ = 0;  // 0: none (callers' ids start at 1)
  carrier_id active_post_ = 0;
  carrier_id ws_ = 0;
  carrier_id probe_ = 0;
  bool probed_ = false;
  eio_clock::time_point upgrade_deadline_ = eio_clock::time_point::max();
  eio_clock::time_point next_ping_;
  eio_clock::time_point pong_deadline_ = eio_clock::time_point::max();
  eio_clock::time_point close_deadline_ = eio_clock::time_point::max();
  std::vector<eio_packet> queue_;  // not std::deque: idle sessions keep no 512-byte block
  std::size_t buffered_bytes_ = 0;
  std::vector<eio_output> out_;
};

}  // namespace cutover::sio
