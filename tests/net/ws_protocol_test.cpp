#include "net/ws_protocol.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace cutover::net::ws {
namespace {

// A client frame: masked, with `op`, `fin`, payload.
std::string client_frame(unsigned op, std::string_view payload, bool fin = true, unsigned rsv = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | op));
  std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i)
      f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return f;
}

struct collected {
  std::vector<std::pair<opcode, std::string>> msgs;
  frame_parser::result last;
};

collected feed_all(frame_parser& p, const std::string& bytes, std::size_t chunk = 0) {
  collected c;
  auto on = [&](opcode op, std::string_view payload) {
    c.msgs.emplace_back(op, std::string(payload));
  };
  if (chunk == 0) chunk = bytes.size();
  for (std::size_t i = 0; i < bytes.size() && !c.last.close; i += chunk)
    c.last = p.feed(bytes.data() + i, std::min(chunk, bytes.size() - i), on);
  return c;
}

TEST(WsProtocol, AcceptKeyFromRfc6455) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsProtocol, TextMessageWhole) {
  frame_parser p(1024);
  auto c = feed_all(p, client_frame(1, R"({"type":"resume"})"));
  ASSERT_EQ(c.last.close, 0);
  ASSERT_EQ(c.msgs.size(), 1u);
  EXPECT_EQ(c.msgs[0].first, opcode::text);
  EXPECT_EQ(c.msgs[0].second, R"({"type":"resume"})");
  EXPECT_TRUE(p.idle());
}

TEST(WsProtocol, ByteByByteAndSeveralFramesPerRead) {
  frame_parser p(100000);
  std::string big(70000, 'x');
  std::string all =
      client_frame(1, "a") + client_frame(9, "pp") + client_frame(1, big) + client_frame(1, "b");
  auto c = feed_all(p, all, 1);
  ASSERT_EQ(c.last.close, 0);
  ASSERT_EQ(c.msgs.size(), 4u);
  EXPECT_EQ(c.msgs[1].first, opcode::ping);
  EXPECT_EQ(c.msgs[1].second, "pp");
  EXPECT_EQ(c.msgs[2].second, big);
  EXPECT_EQ(c.msgs[3].second, "b");
}

TEST(WsProtocol, FragmentedWithInterleavedPing) {
  frame_parser p(1024);
  std::string all =
      client_frame(1, "hel", false) + client_frame(9, "") + client_frame(0, "lo", true);
  auto c = feed_all(p, all, 3);
  ASSERT_EQ(c.last.close, 0);
  ASSERT_EQ(c.msgs.size(), 2u);
  EXPECT_EQ(c.msgs[0].first, opcode::ping);
  EXPECT_EQ(c.msgs[1].second, "hello");
}

TEST(WsProtocol, Violations) {
  struct row {
    std::string bytes;
    std::uint16_t code;
  };
  std::string unmasked = "\x81\x01x";
  std::vector<row> rows = {
      {unmasked, close_code::protocol_error},
      {client_frame(1, "x", true, 0x40), close_code::protocol_error},  // RSV1 without extension
      {client_frame(3, "x"), close_code::protocol_error},              // reserved opcode
      {client_frame(9, std::string(126, 'p')),
       close_code::protocol_error},                               // control frame too long
      {client_frame(9, "p", false), close_code::protocol_error},  // fragmented control frame
      {client_frame(0, "x"), close_code::protocol_error},         // continuation without start
      {client_frame(1, "a", false) + client_frame(1, "b"), close_code::protocol_error},
      {client_frame(1, std::string(2000, 'x')), close_code::too_big},
      {client_frame(1, "a", false) + client_frame(0, std::string(1020, 'x'), false) +
           client_frame(0, "yyyy"),
       close_code::too_big},
      {client_frame(1, "\xff\xfe"), close_code::invalid_payload},
      {client_frame(1, "\xc3", false) + client_frame(0, "\x28"), close_code::invalid_payload},
      {client_frame(8, "\x03"), close_code::protocol_error},  // close payload of 1 byte
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    frame_parser p(1024);
    auto c = feed_all(p, rows[i].bytes);
    EXPECT_EQ(c.last.close, rows[i].code) << "row " << i;
  }
}

TEST(WsProtocol, HugeDeclaredLengthRefusedBeforeBuffering) {
  frame_parser p(1024);
  std::string hdr = "\x81\xff";
  for (int i = 0; i < 8; ++i) hdr.push_back('\xff');
  hdr += "mask";
  auto c = feed_all(p, hdr);
  EXPECT_EQ(c.last.close, close_code::too_big);
}

// Fuzz finding (tests/fuzz/corpus/ws_frame_fuzz/regress_violation_keeps_nothing): after a
// violation the session reads on until the peer's close or EOF, and when the violation was
// in a partial frame, every later byte was appended to it and kept.
TEST(WsProtocol, NothingIsKeptAfterAViolation) {
  frame_parser p(1024);
  auto on = [](opcode, std::string_view) {};
  EXPECT_EQ(p.feed("\x81", 1, on).close, 0);  // half a header: kept for the next read
  EXPECT_EQ(p.buffered(), 1u);
  std::string junk = "\x01" + std::string(100000, 'x');  // the rest, unmasked: a violation
  EXPECT_EQ(p.feed(junk.data(), junk.size(), on).close, close_code::protocol_error);
  for (int i = 0; i < 10; ++i) {
    auto r = p.feed(junk.data(), junk.size(), on);
    EXPECT_EQ(r.close, close_code::protocol_error);
    EXPECT_STREQ(r.reason, "client frames must be masked");
  }
  EXPECT_EQ(p.buffered(), 0u);
  // A violation inside a fragmented message drops the message too.
  frame_parser q(1024);
  auto start = client_frame(1, std::string(1000, 'a'), false);
  EXPECT_EQ(q.feed(start.data(), start.size(), on).close, 0);
  EXPECT_EQ(q.buffered(), 1000u);
  auto bad = client_frame(0, std::string(100, 'b'), true, 0x40);
  EXPECT_EQ(q.feed(bad.data(), bad.size(), on).close, close_code::protocol_error);
  EXPECT_EQ(q.buffered(), 0u);
}

TEST(WsProtocol, BinaryAndCloseDelivered) {
  frame_parser p(1024);
  std::string close_payload = "\x03\xe8ok";
  auto c = feed_all(p, client_frame(2, "\x01\x02") + client_frame(8, close_payload));
  ASSERT_EQ(c.msgs.size(), 2u);
  EXPECT_EQ(c.msgs[0].first, opcode::binary);
  EXPECT_EQ(c.msgs[1].first, opcode::close);
  EXPECT_EQ(c.msgs[1].second, close_payload);
}

TEST(WsProtocol, CloseFrameShape) {
  std::string f = close_frame(1013, "busy");
  ASSERT_EQ(f.size(), 2u + 2 + 4);
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x88);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 6);
  EXPECT_EQ((static_cast<unsigned char>(f[2]) << 8) | static_cast<unsigned char>(f[3]), 1013);
}

TEST(WsProtocol, InvalidCloseCodes) {
  for (std::uint16_t c : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535})
    EXPECT_FALSE(valid_close_code(c)) << c;
  for (std::uint16_t c : {1000, 1003, 1007, 1014, 3000, 4999})
    EXPECT_TRUE(valid_close_code(c)) << c;
  // Never on the wire, whatever a caller passes.
  EXPECT_EQ(close_frame(1005, "").substr(2, 2), std::string("\x03\xe8", 2));
}

}  // namespace
}  // namespace cutover::net::ws
