#pragma once
// Socket.IO v4 at `/socket.io/` (DESIGN §6.2) on the push-session seam: a push_session
// whose codec speaks Socket.IO events and whose carrier is an Engine.IO session
// (cutover_sio's sans-IO state machine) instead of a socket.
//
// One `sio_conn` per Engine.IO session, owned by the sid registry and run on the shard
// whose thread took its handshake (its "owner"). Polling requests land on any shard
// (accept is round-robin): the request's http_session finds the session in the registry
// and posts the request to the owner; the owner posts the answer back to the request's
// thread, where the http_session writes it. A WebSocket for a session (the upgrade) moves
// its socket to the owner's thread, so the session and all its I/O stay on one thread.
//
// Layering on the owner's thread:
//   http_session / sio_ws  --(polling requests, WebSocket frames)-->  eio_session
//   eio_session --(messages)--> sio_conn: CONNECT (identity, start position, pid) and the
//   client's events; after CONNECT a push_session over an `eio_carrier`: each frame the
//   push session writes is one Socket.IO packet, handed to eio_session::send (bounded:
//   when it is full the carrier says would_block and the push session catches up from
//   the store like any slow consumer).

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cursor.hpp"
#include "net/http_util.hpp"
#include "sio/eio_handshake.hpp"
#include "sio/sid_registry.hpp"

namespace cutover::net {

class http_session;
class shard;
class sio_conn;

// What socket.io-client's recovery offset is marked with: a pid of this form says the
// client's offsets are Cutover cursors, valid on any instance (no session table).
inline constexpr std::string_view kSioPidPrefix = "cutover.";

// A polling request on its way to the session's owner.
struct sio_poll {
  std::weak_ptr<http_session> http;
  shard* from = nullptr;      // the request's thread: the answer is posted there
  std::uint64_t carrier = 0;  // the request's id for eio_session
  bool post = false;
  std::string body;          // POST: the payload
  std::vector<header> cors;  // an allowed cross-origin page's CORS headers, for the answer
};

// Process-wide: the sessions by sid and the carrier ids.
class sio_service {
 public:
  sio_service(std::size_t max_sessions, sio::eio_config cfg, std::chrono::milliseconds connect)
      : registry(max_sessions), eio(cfg), connect_timeout(connect) {}
  std::uint64_t next_carrier() { return next_.fetch_add(1, std::memory_order_relaxed) + 1; }

  sio::sid_registry<sio_conn> registry;
  const sio::eio_config eio;
  const std::chrono::milliseconds connect_timeout;

 private:
  std::atomic<std::uint64_t> next_{0};
};

// Who a new session serves. `user` empty: token mode with no token in the handshake;
// the CONNECT's auth.token must bring it.
struct sio_start {
  std::string user;
  std::optional<cursor> query_since;  // the handshake's ?since=
};

// On `sh`'s thread (an http_session's): a polling handshake. The session is owned by `sh`;
// the open packet is posted back to `req.http`. nullptr when the registry is full.
std::shared_ptr<sio_conn> sio_handshake(shard& sh, sio_service& svc, sio_start who, sio_poll req);
// On any thread: a polling GET/POST for `c`, run on its owner.
void sio_poll_request(const std::shared_ptr<sio_conn>& c, sio_poll req);
// On any thread: the request `carrier` of `c` is gone (its connection closed).
void sio_carrier_gone(const std::shared_ptr<sio_conn>& c, std::uint64_t carrier);
// On `sh`'s thread: a WebSocket for a new session (`who`), owned by `sh`.
void sio_websocket_new(shard& sh, sio_service& svc, boost::asio::ip::tcp::socket socket,
                       std::string accept_key, sio_start who, std::string leftover);
// On any thread: a WebSocket (the upgrade) for the existing session `c`: the socket moves
// to `c`'s owner. False when the socket cannot be moved (it is closed then).
bool sio_websocket_upgrade(const std::shared_ptr<sio_conn>& c, boost::asio::ip::tcp::socket socket,
                           std::string accept_key, std::string leftover);

}  // namespace cutover::net
