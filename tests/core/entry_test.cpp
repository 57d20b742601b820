#include "core/entry.hpp"

#include <gtest/gtest.h>

#include "core/json_text.hpp"

namespace cutover {
namespace {

TEST(Entry, DecodesStreamFields) {
  auto r = decode_stream_fields(
      {{"topic", "user:1"}, {"type", "task.done"}, {"data", "{ \"a\": 1 }"}, {"key", "k1"}}, {});
  ASSERT_TRUE(r.entry) << r.reason;
  EXPECT_EQ(r.entry->topic, "user:1");
  EXPECT_EQ(r.entry->type, "task.done");
  EXPECT_EQ(r.entry->data, R"({"a":1})");
  EXPECT_EQ(r.entry->key, "k1");
}

TEST(Entry, IgnoresExtraFieldsAndTypeIsOptional) {
  auto r = decode_stream_fields({{"data", "1"}, {"topic", "all"}, {"replayOf", "1-1"}}, {});
  ASSERT_TRUE(r.entry) << r.reason;
  EXPECT_EQ(r.entry->type, "");
  EXPECT_FALSE(r.entry->key);
}

TEST(Entry, ReasonsForBadEntries) {
  entry_limits lim;
  lim.max_payload = 16;
  auto reason = [&](field_list f) { return decode_stream_fields(f, lim).reason; };
  EXPECT_EQ(reason({{"data", "1"}}), "missing field 'topic'");
  EXPECT_EQ(reason({{"topic", "t"}}), "missing field 'data'");
  EXPECT_EQ(reason({{"topic", ""}, {"data", "1"}}), "empty topic");
  EXPECT_EQ(reason({{"topic", "t"}, {"topic", "u"}, {"data", "1"}}),
            "field 'topic' appears more than once");
  EXPECT_NE(reason({{"topic", "t"}, {"data", "{nope"}}).find("data is not JSON"),
            std::string::npos);
  EXPECT_NE(reason({{"topic", "t"}, {"data", std::string(17, '1')}}).find("over --max-payload"),
            std::string::npos);
  EXPECT_EQ(reason({{"topic", "t\xff"}, {"data", "1"}}), "topic is not valid UTF-8");
  EXPECT_EQ(reason({{"topic", "t\n"}, {"data", "1"}}), "topic contains control characters");
  EXPECT_EQ(reason({{"topic", "t"}, {"data", "1"}, {"key", ""}}), "empty idempotency key");
}

// Fuzz finding (tests/fuzz/corpus/entry_fuzz/regress_unknown_field_utf8): the reason quoted
// the first 64 bytes of an unknown field's name, cutting a multi-byte character; the
// reason is the 400 body of POST /v1/publish, which then was not valid JSON.
TEST(Entry, PublishReasonQuotesWholeCharactersOnly) {
  std::string name;
  for (int i = 0; i < 30; ++i) name += "\xE2\x82\xAC";
  auto r = decode_publish_body(R"({"topic":"user:1","data":1,")" + name + R"(":2})", {});
  ASSERT_FALSE(r.entry);
  EXPECT_TRUE(json_text::valid_utf8(r.reason)) << r.reason;
  EXPECT_NE(r.reason.find("unknown field '" + name.substr(0, 63) + "'"), std::string::npos)
      << r.reason;
}

TEST(Entry, PubSubEnvelope) {
  auto r = decode_pubsub_message("user:7", R"({"type":"x","data":{"n":1.50}})", {});
  ASSERT_TRUE(r.entry) << r.reason;
  EXPECT_EQ(r.entry->type, "x");
  EXPECT_EQ(r.entry->data, R"({"n":1.50})");
  auto only_data = decode_pubsub_message("all", R"({"data":[1,2]})", {});
  ASSERT_TRUE(only_data.entry);
  EXPECT_EQ(only_data.entry->data, "[1,2]");
}

TEST(Entry, PubSubOtherValueIsData) {
  auto r = decode_pubsub_message("user:7", R"({"type":"x","data":1,"extra":2})", {});
  ASSERT_TRUE(r.entry);
  EXPECT_EQ(r.entry->type, "");
  EXPECT_EQ(r.entry->data, R"({"type":"x","data":1,"extra":2})");
  auto num = decode_pubsub_message("user:7", "5", {});
  ASSERT_TRUE(num.entry);
  EXPECT_EQ(num.entry->data, "5");
  EXPECT_FALSE(decode_pubsub_message("user:7", "not json", {}).entry);
}

TEST(Entry, RawFieldsJsonIsValidJsonEvenForBinary) {
  std::string raw = raw_fields_json({{"topic", "a\xff"}, {"data", "x\"y"}});
  EXPECT_EQ(raw, "{\"topic\":\"a\xEF\xBF\xBD\",\"data\":\"x\\\"y\"}");
}

}  // namespace
}  // namespace cutover
