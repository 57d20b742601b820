#include "net/ws_protocol.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

#include "core/json_text.hpp"
#include "core/notification.hpp"

namespace cutover::net::ws {

bool valid_client_key(std::string_view key) noexcept {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  auto b64 = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  };
  return std::all_of(key.begin(), key.begin() + 22, b64);
}

std::string accept_key(std::string_view client_key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(client_key);
  input += guid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int len = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
}

bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  if (!valid_close_code(code)) code = close_code::normal;
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, 123));
  return make_ws_frame(static_cast<unsigned char>(opcode::close), payload);
}

std::size_t frame_parser::parse_one(char* p, std::size_t n, frame_view& out, result& err) const {
  if (n < 2) return 0;
  auto b0 = static_cast<unsigned char>(p[0]);
  auto b1 = static_cast<unsigned char>(p[1]);
  bool fin = b0 & 0x80;
  if (b0 & 0x70) {
    err = {close_code::protocol_error, "reserved bits set (no extension was negotiated)"};
    return 0;
  }
  unsigned op = b0 & 0x0F;
  bool control = op & 0x8;
  if (!(op <= 2 || (op >= 8 && op <= 10))) {
    err = {close_code::protocol_error, "unknown opcode"};
    return 0;
  }
  if (!(b1 & 0x80)) {
    err = {close_code::protocol_error, "client frames must be masked"};
    return 0;
  }
  std::uint64_t len = b1 & 0x7F;
  std::size_t hdr = 2;
  if (len == 126) {
    if (n < 4) return 0;
    len = (std::uint64_t{static_cast<unsigned char>(p[2])} << 8) | static_cast<unsigned char>(p[3]);
    hdr = 4;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(p[2 + i]);
    hdr = 10;
  }
  if (control && (len > 125 || !fin)) {
    err = {close_code::protocol_error, "control frames must be final and at most 125 bytes"};
    return 0;
  }
  if (!control && len > max_message_ - message_.size()) {
    err = {close_code::too_big, "message too big"};
    return 0;
  }
  if (n < hdr + 4 + len) return 0;
  auto* mask = reinterpret_cast<unsigned char*>(p + hdr);
  char* payload = p + hdr + 4;
  for (std::uint64_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
  out = {fin, static_cast<opcode>(op), std::string_view(payload, static_cast<std::size_t>(len))};
  return hdr + 4 + static_cast<std::size_t>(len);
}

frame_parser::result frame_parser::fail(result err) {
  failed_ = err;
  pending_.clear();
  pending_.shrink_to_fit();
  message_.clear();
  message_.shrink_to_fit();
  in_message_ = false;
  return err;
}

frame_parser::result frame_parser::on_frame(const frame_view& f, std::string_view& message,
                                            opcode& op, bool& complete) {
  complete = false;
  switch (f.op) {
    case opcode::close:
      if (f.payload.size() == 1) return {close_code::protocol_error, "close payload of one byte"};
      if (f.payload.size() >= 2 && !valid_close_code(static_cast<std::uint16_t>(
                                       static_cast<unsigned char>(f.payload[0]) << 8 |
                                       static_cast<unsigned char>(f.payload[1]))))
        return {close_code::protocol_error, "invalid close code"};
      if (f.payload.size() > 2 && !json_text::valid_utf8(f.payload.substr(2)))
        return {close_code::invalid_payload, "close reason is not UTF-8"};
      [[fallthrough]];
    case opcode::ping:
    case opcode::pong:
      message = f.payload;
      op = f.op;
      complete = true;
      return {};
    case opcode::continuation:
      if (!in_message_) return {close_code::protocol_error, "continuation without a message"};
      message_.append(f.payload);
      break;
    case opcode::text:
    case opcode::binary:
      if (in_message_) return {close_code::protocol_error, "new message inside a fragmented one"};
      if (f.fin) {
        // The common case: one frame, no copy.
        if (f.op == opcode::text && !json_text::valid_utf8(f.payload))
          return {close_code::invalid_payload, "text message is not UTF-8"};
        message = f.payload;
        op = f.op;
        complete = true;
        return {};
      }
      in_message_ = true;
      message_op_ = f.op;
      message_.assign(f.payload);
      break;
  }
  if (!f.fin) return {};
  in_message_ = false;
  if (message_op_ == opcode::text && !json_text::valid_utf8(message_))
    return {close_code::invalid_payload, "text message is not UTF-8"};
  message = message_;
  op = message_op_;
  complete = true;
  return {};
}

}  // namespace cutover::net::ws
