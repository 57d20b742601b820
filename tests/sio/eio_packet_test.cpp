#include "sio/eio_packet.hpp"

#include <gtest/gtest.h>

namespace cutover::sio {
namespace {

TEST(EioPacket, WebSocketTextIsTypeDigitThenData) {
  EXPECT_EQ(encode_ws_text(eio_packet::text(eio_type::message, "hello")), "4hello");
  EXPECT_EQ(encode_ws_text(eio_packet::text(eio_type::ping)), "2");
  EXPECT_EQ(encode_ws_text(eio_packet::text(eio_type::pong, "probe")), "3probe");
  eio_packet p;
  ASSERT_TRUE(decode_ws_text("4hello", p));
  EXPECT_EQ(p, eio_packet::text(eio_type::message, "hello"));
  ASSERT_TRUE(decode_ws_text("6", p));
  EXPECT_EQ(p.type, eio_type::noop);
  EXPECT_TRUE(p.data.empty());
}

TEST(EioPacket, WebSocketTextRefusesEmptyAndUnknownTypes) {
  eio_packet p;
  EXPECT_FALSE(decode_ws_text("", p));
  EXPECT_FALSE(decode_ws_text("abc", p));
  EXPECT_FALSE(decode_ws_text("7", p));
  EXPECT_FALSE(decode_ws_text("bAQIDBA==", p));  // "b" belongs to polling payloads only
}

TEST(EioPacket, PayloadJoinsWithRecordSeparatorAndBase64ForBinary) {
  std::vector<eio_packet> ps = {eio_packet::text(eio_type::message, "hello"),
                                eio_packet::bytes(std::string("\x01\x02\x03\x04", 4)),
                                eio_packet::text(eio_type::ping)};
  EXPECT_EQ(encode_payload(ps),
            "4hello\x1e"
            "bAQIDBA==\x1e"
            "2");
  std::vector<eio_packet> back;
  ASSERT_TRUE(
      decode_payload("4hello\x1e"
                     "bAQIDBA==\x1e"
                     "2",
                     back));
  EXPECT_EQ(back, ps);
}

TEST(EioPacket, PayloadOfOnePacketAndOfSeveral) {
  std::vector<eio_packet> back;
  ASSERT_TRUE(
      decode_payload("4test1\x1e"
                     "4test2\x1e"
                     "4test3",
                     back));
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[2].data, "test3");
  ASSERT_TRUE(decode_payload("3", back));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].type, eio_type::pong);
}

TEST(EioPacket, PayloadRefusesAnyBadPacket) {
  std::vector<eio_packet> back;
  EXPECT_FALSE(decode_payload("abc", back));
  EXPECT_FALSE(decode_payload("", back));
  EXPECT_FALSE(decode_payload("4a\x1e", back));  // empty last packet
  EXPECT_FALSE(
      decode_payload("4a\x1e\x1e"
                     "4b",
                     back));  // empty middle packet
  EXPECT_FALSE(
      decode_payload("4a\x1e"
                     "b!!!!",
                     back));  // bad base64
  EXPECT_FALSE(
      decode_payload("4a\x1e"
                     "9",
                     back));
}

}  // namespace
}  // namespace cutover::sio
