#include "sio/eio_packet.hpp"

#include "sio/base64.hpp"

namespace cutover::sio {
namespace {

bool known_type(char c) {
  return c >= '0' && c <= '6';
}

bool decode_one(std::string_view s, eio_packet& out) {
  if (s.empty()) return false;
  if (s[0] == 'b') {
    auto bytes = base64_decode(s.substr(1));
    if (!bytes) return false;
    out = eio_packet::bytes(std::move(*bytes));
    return true;
  }
  if (!known_type(s[0])) return false;
  out = eio_packet::text(static_cast<eio_type>(s[0]), std::string(s.substr(1)));
  return true;
}

}  // namespace

std::string encode_ws_text(const eio_packet& p) {
  std::string out;
  out.reserve(1 + p.data.size());
  out += static_cast<char>(p.type);
  out += p.data;
  return out;
}

bool decode_ws_text(std::string_view frame, eio_packet& out) {
  if (frame.empty() || !known_type(frame[0])) return false;
  out = eio_packet::text(static_cast<eio_type>(frame[0]), std::string(frame.substr(1)));
  return true;
}

void append_payload_packet(std::string& out, const eio_packet& p) {
  if (p.binary) {
    out += 'b';
    out += base64_encode(p.data);
  } else {
    out += static_cast<char>(p.type);
    out += p.data;
  }
}

std::string encode_payload(const std::vector<eio_packet>& packets) {
  std::string out;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i) out += kRecordSeparator;
    append_payload_packet(out, packets[i]);
  }
  return out;
}

bool decode_payload(std::string_view body, std::vector<eio_packet>& out) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    std::size_t end = body.find(kRecordSeparator, start);
    std::string_view one = body.substr(start, end == std::string_view::npos ? end : end - start);
    eio_packet p;
    if (!decode_one(one, p)) return false;
    out.push_back(std::move(p));
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

}  // namespace cutover::sio
