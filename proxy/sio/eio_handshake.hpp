#pragma once
// What Engine.IO v4 says about a request before any session is involved: which transport,
// which protocol version, which method, and the refusals with Engine.IO's own error codes
// and JSON bodies (`{"code":N,"message":".."}`, what the reference server and its clients
// know). Also the handshake's open packet. Pure functions, any thread.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace cutover::sio {

struct eio_config {
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::size_t max_payload = 1000000;                 // bytes per polling body / WebSocket message
  std::chrono::milliseconds upgrade_timeout{10000};  // 2probe .. 5
  std::size_t max_buffered_bytes = 256 * 1024;       // outgoing messages waiting for a carrier
};

enum class transport { polling, websocket };
std::string_view transport_name(transport t);

// Engine.IO's error codes, as its reference server answers them.
enum class eio_error : int {
  transport_unknown = 0,
  session_id_unknown = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};

std::string_view eio_error_message(eio_error e);
int eio_error_status(eio_error e);        // 403 for forbidden, else 400
std::string eio_error_body(eio_error e);  // {"code":N,"message":".."}

enum class http_method { get, post, other };

// The query parameters that matter, as the caller's URL parser decoded them (absent: nullopt).
struct eio_query {
  std::optional<std::string_view> eio;
  std::optional<std::string_view> transport;
  std::optional<std::string_view> sid;
};

struct eio_request {
  sio::transport transport = transport::polling;
  std::optional<std::string> sid;  // nullopt: a handshake
};

// Checks a request to the Engine.IO path. `websocket_upgrade` is true for a request that asks
// to be upgraded to WebSocket. Order of the checks (first that fails wins): transport
// missing/unknown, or a WebSocket upgrade naming `polling` (0); EIO not exactly "4" (5); a
// polling handshake that is not a GET (2); a polling request with a sid that is neither GET
// nor POST (3). Whether the sid exists is the registry's question, not this one's.
std::variant<eio_request, eio_error> check_request(http_method method, bool websocket_upgrade,
                                                   const eio_query& q);

// The open packet:
// `0{"sid":..,"upgrades":[..],"pingInterval":..,"pingTimeout":..,"maxPayload":..}`. A polling
// session offers ["websocket"]; a WebSocket session offers nothing.
std::string open_packet(std::string_view sid, transport t, const eio_config& cfg);

}  // namespace cutover::sio
