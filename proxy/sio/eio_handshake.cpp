#include "sio/eio_handshake.hpp"

#include "core/json_text.hpp"

namespace cutover::sio {

std::string_view transport_name(transport t) {
  return t == transport::polling ? "polling" : "websocket";
}

std::string_view eio_error_message(eio_error e) {
  switch (e) {
    case eio_error::transport_unknown:
      return "Transport unknown";
    case eio_error::session_id_unknown:
      return "Session ID unknown";
    case eio_error::bad_handshake_method:
      return "Bad handshake method";
    case eio_error::bad_request:
      return "Bad request";
    case eio_error::forbidden:
      return "Forbidden";
    case eio_error::unsupported_protocol_version:
      return "Unsupported protocol version";
  }
  return "Bad request";
}

int eio_error_status(eio_error e) {
  return e == eio_error::forbidden ? 403 : 400;
}

std::string eio_error_body(eio_error e) {
  std::string out = "{\"code\":";
  out += std::to_string(static_cast<int>(e));
  out += ",\"message\":";
  json_text::append_quoted(out, eio_error_message(e));
  out += '}';
  return out;
}

std::variant<eio_request, eio_error> check_request(http_method method, bool websocket_upgrade,
                                                   const eio_query& q) {
  eio_request r;
  if (!q.transport) return eio_error::transport_unknown;
  if (*q.transport == "polling" && !websocket_upgrade) {
    r.transport = transport::polling;
  } else if (*q.transport == "websocket" && websocket_upgrade) {
    r.transport = transport::websocket;
  } else {
    return eio_error::transport_unknown;
  }
  if (!q.eio || *q.eio != "4") return eio_error::unsupported_protocol_version;
  if (q.sid) r.sid = std::string(*q.sid);
  if (r.transport == transport::polling) {
    if (!r.sid && method != http_method::get) return eio_error::bad_handshake_method;
    if (r.sid && method == http_method::other) return eio_error::bad_request;
  } else if (method != http_method::get) {
    return eio_error::bad_request;
  }
  return r;
}

std::string open_packet(std::string_view sid, transport t, const eio_config& cfg) {
  std::string out = "0{\"sid\":";
  json_text::append_quoted(out, sid);
  out += t == transport::polling ? ",\"upgrades\":[\"websocket\"]" : ",\"upgrades\":[]";
  out += ",\"pingInterval\":" + std::to_string(cfg.ping_interval.count());
  out += ",\"pingTimeout\":" + std::to_string(cfg.ping_timeout.count());
  out += ",\"maxPayload\":" + std::to_string(cfg.max_payload) + "}";
  return out;
}

}  // namespace cutover::sio
