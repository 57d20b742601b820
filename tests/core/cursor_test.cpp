#include "core/cursor.hpp"

#include <gtest/gtest.h>

#include "core/json_text.hpp"

namespace cutover {
namespace {

TEST(Cursor, StreamIdRoundTrip) {
  auto c = parse_cursor("1700000000123-7");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->form, cursor_form::stream_id);
  EXPECT_EQ(c->after, (stream_id{1700000000123, 7}));
  EXPECT_EQ(c->after.str(), "1700000000123-7");
}

TEST(Cursor, LegacyIdIsMsTimes1024PlusSeq) {
  stream_id id{1700000000123, 7};
  EXPECT_EQ(id.legacy_id(), 1700000000123ull * 1024 + 7);
  auto c = parse_cursor(std::to_string(id.legacy_id()));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->form, cursor_form::legacy_id);
  EXPECT_EQ(c->after, id);
  EXPECT_EQ(c->legacy, id.legacy_id());
}

TEST(Cursor, LegacyIdSaturatesAtTail) {
  EXPECT_EQ((stream_id{5, 1022}).legacy_id(), 5u * 1024 + 1022);
  EXPECT_EQ((stream_id{5, 1023}).legacy_id(), 5u * 1024 + 1023);
  EXPECT_EQ((stream_id{5, 99999}).legacy_id(), 5u * 1024 + 1023);
  // The tail value means "after the whole millisecond".
  auto c = parse_cursor(std::to_string(5u * 1024 + 1023));
  ASSERT_TRUE(c);
  EXPECT_LT((stream_id{5, 99999}), c->after);
  EXPECT_LT(c->after, (stream_id{6, 0}));
}

TEST(Cursor, ZeroMeansOldest) {
  for (auto text : {"0", "0-0"}) {
    auto c = parse_cursor(text);
    ASSERT_TRUE(c) << text;
    EXPECT_TRUE(c->from_oldest());
  }
}

TEST(Cursor, TotalOrder) {
  EXPECT_LT((stream_id{1, 5}), (stream_id{2, 0}));
  EXPECT_LT((stream_id{1, 5}), (stream_id{1, 6}));
  EXPECT_EQ((stream_id{1, 5}), (stream_id{1, 5}));
  EXPECT_EQ((stream_id{1, 5}).next(), (stream_id{1, 6}));
  EXPECT_EQ((stream_id{1, stream_id::kSeqTail}).next(), (stream_id{2, 0}));
}

TEST(Cursor, GarbageRefusedWithExpectation) {
  for (auto text :
       {"", "-1", "+5", " 5", "5 ", "abc", "1-", "-1-2", "1-2-3", "0x10", "1.5", "1--2",
        "99999999999999999999999", "18446744073709551616", "1-18446744073709551616", "1e5"}) {
    cursor_error why;
    EXPECT_FALSE(parse_cursor(text, &why)) << text;
    EXPECT_NE(why.message.find("expected a stream id"), std::string::npos) << text;
  }
}

// Fuzz finding (tests/fuzz/corpus/query_fuzz/regress_cursor_message_utf8): the message
// quotes 64 bytes of the cursor, and cutting a multi-byte character there put invalid UTF-8
// into the 400 JSON body and the WebSocket error frame.
TEST(Cursor, MessageQuotesWholeCharactersOnly) {
  std::string euros;
  for (int i = 0; i < 40; ++i) euros += "\xE2\x82\xAC";  // 120 bytes, 64 is inside a character
  for (const std::string& text : {euros, "1-" + euros}) {
    cursor_error why;
    ASSERT_FALSE(parse_cursor(text, &why));
    EXPECT_TRUE(json_text::valid_utf8(why.message)) << why.message;
    std::string quoted =
        text.substr(0, text[0] == '1' ? 62 : 63);  // whole characters, at most 64 bytes
    EXPECT_NE(why.message.find("'" + quoted + "'"), std::string::npos) << why.message;
  }
}

TEST(Cursor, HugeSeqClampsToTail) {
  auto c = parse_cursor("5-18446744073709551615");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->after, (stream_id{5, stream_id::kSeqTail}));
}

TEST(Cursor, Storable) {
  EXPECT_TRUE((stream_id{stream_id::kMaxMs, 0}).is_storable());
  EXPECT_FALSE((stream_id{stream_id::kMaxMs + 1, 0}).is_storable());
  EXPECT_FALSE((stream_id{1, stream_id::kSeqTail}).is_storable());
  // Largest storable legacyId is still exact in a JavaScript number (2^53).
  EXPECT_LT((stream_id{stream_id::kMaxMs, 5000}).legacy_id(), 1ull << 53);
}

TEST(Cursor, LegacyIdSaturatesInsteadOfWrapping) {
  // A cursor far beyond any storable id (ms above 2^54) must not wrap to a small legacyId.
  EXPECT_EQ((stream_id{std::uint64_t{1} << 60, 0}).legacy_id(), UINT64_MAX);
  auto c = parse_cursor("18446744073709551615-0");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->after.legacy_id(), UINT64_MAX);
}

TEST(Cursor, Iso8601) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc(1700000000123), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace cutover
