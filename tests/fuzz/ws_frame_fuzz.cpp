// WebSocket client frame handling: net::ws::frame_parser::feed, as websocket_session
// drives it (bytes in whatever pieces the socket returns, and more bytes after a
// violation while the close handshake runs).
//
// The input is either raw bytes on the wire or, to reach deep states quickly, a list of
// frame descriptions serialised here (fragmentation, masking, lengths, UTF-8 edge cases).
//
// Invariants:
// - chunking does not matter: fed in random splits, the parser reports the same messages
//   and the same close code as when fed everything at once;
// - no text or binary message is larger than the limit; text messages are valid UTF-8;
// - control frames are at most 125 bytes; a close payload is never one byte long;
// - after a violation, more input never crashes it (the session keeps feeding until the
//   peer's close arrives).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/json_text.hpp"
#include "fuzz_support.hpp"
#include "net/ws_protocol.hpp"

namespace cutover::fuzz {
namespace {

using net::ws::frame_parser;
using net::ws::opcode;

struct outcome {
  std::vector<std::pair<opcode, std::string>> messages;
  std::uint16_t close = 0;
};

void check_message(opcode op, std::string_view payload, std::size_t max_message) {
  switch (op) {
    case opcode::text:
      FUZZ_CHECK(payload.size() <= max_message);
      FUZZ_CHECK(json_text::valid_utf8(payload));
      break;
    case opcode::binary:
      FUZZ_CHECK(payload.size() <= max_message);
      break;
    case opcode::close:
      FUZZ_CHECK(payload.size() != 1);
      FUZZ_CHECK(payload.size() <= 125);
      if (payload.size() > 2) FUZZ_CHECK(json_text::valid_utf8(payload.substr(2)));
      break;
    case opcode::ping:
    case opcode::pong:
      FUZZ_CHECK(payload.size() <= 125);
      break;
    case opcode::continuation:
      invariant_failed("a continuation frame reported as a message", __FILE__, __LINE__);
  }
}

// Most a parser may keep between reads: an unfinished message, plus one unfinished frame
// (a data frame that fits the rest of the limit, or a control frame) with its header.
std::size_t kept_bound(std::size_t max_message) {
  return 2 * max_message + 125 + 14;
}

// Feeds `wire` in pieces whose sizes come from `splits` (0 = everything at once).
outcome run(const std::string& wire, std::size_t max_message, byte_reader* splits) {
  frame_parser p(max_message);
  outcome out;
  auto on = [&](opcode op, std::string_view payload) {
    check_message(op, payload, max_message);
    out.messages.emplace_back(op, std::string(payload));
  };
  std::size_t off = 0;
  while (off < wire.size()) {
    std::size_t n = wire.size() - off;
    if (splits) {
      // Mostly small pieces (partial headers, masks, payloads), sometimes large ones.
      std::uint8_t b = splits->u8();
      std::size_t want = b < 200 ? 1 + b % 16 : 1 + static_cast<std::size_t>(b) * 64;
      if (want < n) n = want;
    }
    auto r = p.feed(wire.data() + off, n, on);
    off += n;
    FUZZ_CHECK(p.buffered() <= kept_bound(max_message));
    if (r.close) {
      out.close = r.close;
      FUZZ_CHECK(r.reason && *r.reason);
      // The session goes on reading until the peer's close or EOF (bounded by time, not
      // bytes): whatever it says about them, the parser must not crash or hoard them.
      std::string tail = wire.substr(off) + wire;
      for (int i = 0; i < 3; ++i) {
        p.feed(tail.data(), tail.size(), [](opcode, std::string_view) {});
        FUZZ_CHECK(p.buffered() <= kept_bound(max_message));
      }
      return out;
    }
  }
  if (wire.empty()) FUZZ_CHECK(p.idle());
  return out;
}

// One client frame from a description: header bits, length encoding, mask, payload.
void append_frame(std::string& wire, byte_reader& in) {
  std::uint8_t flags = in.u8();
  bool fin = flags & 0x80;
  unsigned rsv = (flags & 0x07) == 0x07 ? (flags & 0x70) : 0;  // rarely set reserved bits
  unsigned op;
  switch (flags & 0x0F) {
    case 0:
    case 1:
    case 2:
    case 8:
    case 9:
    case 10:
      op = flags & 0x0F;
      break;
    case 3:
      op = 3;
      break;  // a reserved opcode now and then
    default:
      op = (flags & 0x0F) % 3;
      break;
  }
  std::uint8_t shape = in.u8();
  bool masked = (shape & 0x0F) != 0x0F;
  std::string_view payload = (shape & 0x10) ? in.string16() : in.short_string();
  std::uint64_t len = payload.size();
  // Occasionally lie about the length, or use a longer encoding than needed.
  if ((shape & 0xE0) == 0xE0) len = in.u64();
  wire.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | op));
  unsigned char m = masked ? 0x80 : 0;
  int form = (shape >> 5) & 3;  // 0: shortest, 1: 16-bit, 2: 64-bit, 3: shortest
  if (form == 0 || form == 3) form = len < 126 ? 0 : len <= 0xFFFF ? 1 : 2;
  if (form == 1 && len > 0xFFFF) form = 2;
  if (form == 0) {
    wire.push_back(static_cast<char>(m | len));
  } else if (form == 1) {
    wire.push_back(static_cast<char>(m | 126));
    wire.push_back(static_cast<char>(len >> 8));
    wire.push_back(static_cast<char>(len & 0xFF));
  } else {
    wire.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) wire.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  }
  unsigned char key[4] = {0, 0, 0, 0};
  if (masked) {
    for (auto& k : key) k = in.u8();
    wire.append(reinterpret_cast<const char*>(key), 4);
  }
  for (std::size_t i = 0; i < payload.size(); ++i)
    wire.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i & 3]));
}

}  // namespace
}  // namespace cutover::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cutover;
  fuzz::byte_reader in(data, size);
  std::uint8_t mode = in.u8();
  // The limit: usually small so "too big" is reachable, sometimes the server's default.
  std::size_t max_message = (mode & 0x80) ? 64 * 1024 : in.u16() % 2048;
  std::uint32_t split_bytes = in.u8();  // how much of the input steers the chunking
  fuzz::byte_reader splits = [&] {
    auto s = in.bytes(split_bytes);
    return fuzz::byte_reader(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }();
  std::string wire;
  if (mode & 1) {
    while (!in.empty() && wire.size() < (1u << 20)) fuzz::append_frame(wire, in);
  } else {
    wire = std::string(in.rest());
  }
  auto whole = fuzz::run(wire, max_message, nullptr);
  auto pieces = fuzz::run(wire, max_message, &splits);
  FUZZ_CHECK(whole.close == pieces.close);
  FUZZ_CHECK(whole.messages == pieces.messages);
  return 0;
}
