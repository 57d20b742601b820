#include "sio/sio_packet.hpp"

#include <gtest/gtest.h>

namespace cutover::sio {
namespace {

sio_packet decoded(std::string_view text) {
  std::string why;
  auto p = decode_sio(text, &why);
  EXPECT_TRUE(p) << text << ": " << why;
  return p ? *p : sio_packet{};
}

std::string refusal(std::string_view text) {
  std::string why;
  auto p = decode_sio(text, &why);
  EXPECT_FALSE(p) << text;
  return why;
}

TEST(SioPacket, ConnectToMainAndCustomNamespaces) {
  auto p = decoded("0");
  EXPECT_EQ(p.type, sio_type::connect);
  EXPECT_EQ(p.nsp, "/");
  EXPECT_TRUE(p.data.empty());
  p = decoded(R"(0{"token":"123"})");
  EXPECT_EQ(p.data, R"({"token":"123"})");
  EXPECT_TRUE(p.json.is_object());
  p = decoded("0/custom,");
  EXPECT_EQ(p.nsp, "/custom");
  p = decoded("0/custom");  // no comma, as the suite sends it
  EXPECT_EQ(p.nsp, "/custom");
  p = decoded(R"(0/custom,{"token":"abc"})");
  EXPECT_EQ(p.nsp, "/custom");
  EXPECT_EQ(p.data, R"({"token":"abc"})");
}

TEST(SioPacket, EventsAcksAndIds) {
  auto p = decoded(R"(2["message",1,"2",{"3":[true]}])");
  EXPECT_EQ(p.type, sio_type::event);
  EXPECT_FALSE(p.id);
  EXPECT_EQ(p.data, R"(["message",1,"2",{"3":[true]}])");
  p = decoded(R"(2456["message-with-ack",1])");
  ASSERT_TRUE(p.id);
  EXPECT_EQ(*p.id, 456u);
  p = decoded(R"(3/admin,13["bar"])");
  EXPECT_EQ(p.type, sio_type::ack);
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(*p.id, 13u);
  p = decoded("3[]");  // an ACK may be empty
  EXPECT_EQ(p.type, sio_type::ack);
  p = decoded("1");
  EXPECT_EQ(p.type, sio_type::disconnect);
  p = decoded("1/custom,");
  EXPECT_EQ(p.nsp, "/custom");
  p = decoded(R"(2[ "spaced" , 1.50 ])");  // the client's text, compacted, numbers as written
  EXPECT_EQ(p.data, R"(["spaced",1.50])");
}

TEST(SioPacket, BinaryPacketsCountTheirAttachments) {
  auto p = decoded(R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(p.type, sio_type::binary_event);
  EXPECT_EQ(p.attachments, 2u);
  p = decoded(R"(62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(p.type, sio_type::binary_ack);
  EXPECT_EQ(*p.id, 789u);
  p = decoded(R"(51-/admin,["baz",{"_placeholder":true,"num":0}])");
  EXPECT_EQ(p.nsp, "/admin");
}

TEST(SioPacket, RefusesWhatTheReferenceParserRefuses) {
  EXPECT_EQ(refusal(""), "unknown packet type");
  EXPECT_EQ(refusal("abc"), "unknown packet type");
  EXPECT_EQ(refusal("7"), "unknown packet type");
  EXPECT_EQ(refusal("2{}"), "invalid payload");                            // not an array
  EXPECT_EQ(refusal("2"), "invalid payload");                              // no payload
  EXPECT_EQ(refusal("2[]"), "invalid payload");                            // empty
  EXPECT_EQ(refusal(R"(2abc["message-with-ack",1])"), "invalid payload");  // bad ack id
  EXPECT_EQ(refusal(R"(2["connect"])"), "invalid payload");                // reserved name
  EXPECT_EQ(refusal(R"(2[true])"), "invalid payload");
  EXPECT_EQ(refusal(R"(2["a")"), "invalid payload");
  EXPECT_EQ(refusal("0[]"), "invalid payload");  // CONNECT payload must be an object
  EXPECT_EQ(refusal("1{}"), "invalid payload");  // DISCONNECT has none
  EXPECT_EQ(refusal("4"), "invalid payload");    // CONNECT_ERROR needs one
  EXPECT_EQ(refusal("3{}"), "invalid payload");
  EXPECT_EQ(refusal(R"(5["a"])"), "illegal attachments");
  EXPECT_EQ(refusal(R"(5x-["a"])"), "illegal attachments");
  EXPECT_EQ(refusal(R"(51-["a",{"_placeholder":true,"num":1}])"), "illegal attachments");
  EXPECT_EQ(refusal(R"(51-["a",{"_placeholder":true,"num":-1}])"), "illegal attachments");
  EXPECT_EQ(refusal("299999999999999999999[\"a\"]"), "ack id too large");
  EXPECT_EQ(refusal("2[\"\xff\"]"), "invalid payload");  // not UTF-8
  EXPECT_TRUE(decode_sio(R"(2[1])"));                    // a number as the event name is allowed
  EXPECT_TRUE(decode_sio(R"(4"not allowed")"));
}

TEST(SioPacket, EncodesAsTheReadmeShows) {
  sio_packet p;
  p.type = sio_type::connect;
  p.data = R"({"sid":"x"})";
  EXPECT_EQ(encode_sio(p), R"(0{"sid":"x"})");
  p.nsp = "/admin";
  EXPECT_EQ(encode_sio(p), R"(0/admin,{"sid":"x"})");
  sio_packet e;
  e.type = sio_type::event;
  e.id = 12;
  e.data = R"(["foo"])";
  EXPECT_EQ(encode_sio(e), R"(212["foo"])");
  sio_packet b;
  b.type = sio_type::binary_ack;
  b.id = 15;
  b.attachments = 1;
  b.data = R"(["bar",{"_placeholder":true,"num":0}])";
  EXPECT_EQ(encode_sio(b), R"(61-15["bar",{"_placeholder":true,"num":0}])");
  sio_packet d;
  d.type = sio_type::disconnect;
  d.nsp = "/admin";
  EXPECT_EQ(encode_sio(d), "1/admin,");
  sio_packet err;
  err.type = sio_type::connect_error;
  err.nsp = "/random";
  err.data = R"({"message":"Invalid namespace"})";
  EXPECT_EQ(encode_sio(err), R"(4/random,{"message":"Invalid namespace"})");
}

TEST(SioReader, ReassemblesBinaryPacketsFromTheFollowingMessages) {
  sio_reader r;
  EXPECT_EQ(r.feed(false,
                   R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"),
            sio_reader::status::need_more);
  EXPECT_EQ(r.feed(true, "\x01\x02\x03"), sio_reader::status::need_more);
  ASSERT_EQ(r.feed(true, "\x04\x05\x06"), sio_reader::status::packet);
  EXPECT_EQ(r.packet().type, sio_type::binary_event);
  ASSERT_EQ(r.attachments().size(), 2u);
  EXPECT_EQ(r.attachments()[1], "\x04\x05\x06");
  ASSERT_EQ(r.feed(false, R"(2["next"])"), sio_reader::status::packet);
  EXPECT_TRUE(r.attachments().empty());
}

TEST(SioReader, RefusesStrayOrMissingAttachments) {
  sio_reader r;
  EXPECT_EQ(r.feed(true, "\x01"), sio_reader::status::error);
  EXPECT_EQ(r.feed(false, R"(51-["m",{"_placeholder":true,"num":0}])"),
            sio_reader::status::need_more);
  EXPECT_EQ(r.feed(false, R"(2["text instead"])"), sio_reader::status::error);
  sio_reader small(1);
  EXPECT_EQ(small.feed(false, R"(52-["m"])"), sio_reader::status::error);
  EXPECT_EQ(small.error(), "too many attachments");
  EXPECT_EQ(r.feed(false, "4abc"), sio_reader::status::error);
}

}  // namespace
}  // namespace cutover::sio
