#pragma once
// Engine.IO v4 packets (engine.io-protocol README, "Protocol" and "Packet encoding"): one
// packet per WebSocket frame, or several in a polling payload separated by \x1e, binary
// messages as "b<base64>" there. Pure functions, any thread.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cutover::sio {

enum class eio_type : char {
  open = '0',
  close = '1',
  ping = '2',
  pong = '3',
  message = '4',
  upgrade = '5',
  noop = '6',
};

struct eio_packet {
  eio_type type = eio_type::message;
  bool binary = false;  // only for messages: `data` holds raw bytes
  std::string data;

  static eio_packet text(eio_type t, std::string d = {}) { return {t, false, std::move(d)}; }
  static eio_packet bytes(std::string d) { return {eio_type::message, true, std::move(d)}; }
  friend bool operator==(const eio_packet&, const eio_packet&) = default;
};

// The record separator between packets of one polling payload.
inline constexpr char kRecordSeparator = '\x1e';

// A text packet as it goes into a WebSocket text frame: the type digit, then the data.
// A binary packet goes into a binary frame as its bytes alone (no type, no prefix).
std::string encode_ws_text(const eio_packet& p);

// One WebSocket text frame as a packet. False for an empty frame or an unknown type digit.
bool decode_ws_text(std::string_view frame, eio_packet& out);

// One polling payload: packets joined by \x1e, binary messages as "b" + base64.
std::string encode_payload(const std::vector<eio_packet>& packets);
void append_payload_packet(std::string& out, const eio_packet& p);  // without the separator

// A polling request body. False (and `out` unspecified) when any packet is empty, has an
// unknown type, or is "b" with bad base64: a client that sends that is broken, and the
// session is closed without delivering any part of the body.
bool decode_payload(std::string_view body, std::vector<eio_packet>& out);

}  // namespace cutover::sio
