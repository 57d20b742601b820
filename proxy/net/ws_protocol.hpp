#pragma once
// RFC 6455 server side, as pure functions and a frame parser (no I/O): the handshake
// accept key, client frame parsing (masking, fragmentation, control frames, size limit,
// UTF-8 of text messages) and close codes. The session class only moves bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cutover::net::ws {

enum class opcode : std::uint8_t {
  continuation = 0,
  text = 1,
  binary = 2,
  close = 8,
  ping = 9,
  pong = 10
};

namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy = 1008;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

// RFC 6455 §4.1: a Sec-WebSocket-Key is base64 of 16 bytes: 22 base64 characters and "==".
bool valid_client_key(std::string_view key) noexcept;
// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

// RFC 6455 §7.4: the codes a close frame may carry: 1000-1003, 1007-1014 and 3000-4999.
// 1005, 1006 and 1015 only stand for "no code", "no close" and "TLS failed" inside an
// endpoint; 0-999, 1004, 1016-2999 and 5000 up are never valid on the wire.
bool valid_close_code(std::uint16_t code) noexcept;
// A server close frame (unmasked) with `code` and a short reason; a code that may not go
// on the wire becomes 1000.
std::string close_frame(std::uint16_t code, std::string_view reason);

// Parses what a client sends. Bytes of an unfinished frame are kept (bounded by the
// message limit); nothing is allocated while the connection is idle.
class frame_parser {
 public:
  explicit frame_parser(std::size_t max_message) : max_message_(max_message) {}

  struct result {
    std::uint16_t close = 0;  // non-zero: protocol violation, close with this code
    const char* reason = "";
  };

  // Calls on_message(opcode, std::string_view payload) for every complete text or binary
  // message and every control frame, in order. Stops at the first violation, and from then
  // on keeps nothing and parses nothing: every later call returns the same violation.
  template <class OnMessage>
  result feed(const char* data, std::size_t n, OnMessage&& on_message);

  bool idle() const noexcept { return pending_.empty() && !in_message_; }
  // Bytes held between calls (an unfinished frame and message); bounded by the limit.
  std::size_t buffered() const noexcept { return pending_.size() + message_.size(); }

 private:
  struct frame_view {
    bool fin;
    opcode op;
    std::string_view payload;  // unmasked in place
  };
  // Parses one frame at the start of [p, p+n): returns bytes used (0 = need more).
  std::size_t parse_one(char* p, std::size_t n, frame_view& out, result& err) const;
  result on_frame(const frame_view& f, std::string_view& message, opcode& op, bool& complete);
  // Records the first violation and drops what was buffered: the session keeps reading
  // until the peer's close or EOF (bounded by time, not bytes), and those bytes must not
  // pile up behind a broken frame.
  result fail(result err);

  std::size_t max_message_;
  std::string pending_;  // an unfinished frame
  std::string message_;  // a fragmented message being assembled
  opcode message_op_ = opcode::text;
  bool in_message_ = false;
  result failed_;  // the first violation (close == 0: none)
};

template <class OnMessage>
frame_parser::result frame_parser::feed(const char* data, std::size_t n, OnMessage&& on_message) {
  if (failed_.close) return failed_;
  result err;
  // Work in place on a writable buffer: either pending_ (with the new bytes appended) or
  // a copy of the input when there is no partial frame.
  std::string local;
  std::string& buf = pending_.empty() ? local : pending_;
  buf.append(data, n);
  std::size_t off = 0;
  while (off < buf.size()) {
    frame_view f{};
    std::size_t used = parse_one(buf.data() + off, buf.size() - off, f, err);
    if (err.close) return fail(err);
    if (used == 0) break;
    off += used;
    std::string_view message;
    opcode op{};
    bool complete = false;
    err = on_frame(f, message, op, complete);
    if (err.close) return fail(err);
    if (complete) {
      on_message(op, message);
      if (op != opcode::ping && op != opcode::pong && op != opcode::close) message_.clear();
    }
  }
  if (off == buf.size()) {
    pending_.clear();
    pending_.shrink_to_fit();
  } else if (&buf == &local) {
    pending_.assign(local, off, std::string::npos);
  } else {
    pending_.erase(0, off);
  }
  if (message_.empty() && !in_message_) message_.shrink_to_fit();
  return err;
}

}  // namespace cutover::net::ws
