#include "legacy_adapter/poll_protocol.hpp"

#include <gtest/gtest.h>

namespace cutover::legacy {
namespace {

notification_ptr n(std::uint64_t ms, std::uint64_t seq, std::string data = "{}",
                   std::string type = "t") {
  return std::make_shared<const notification>(stream_id{ms, seq}, "user:1", std::move(type),
                                              std::move(data));
}

TEST(PollProtocol, Query) {
  net::query_params q = {{"since", "1024"}};
  auto r = parse_poll_query(q, "since");
  ASSERT_TRUE(std::holds_alternative<poll_query>(r));
  EXPECT_EQ(std::get<poll_query>(r).since->after, (stream_id{1, 0}));
  net::query_params none;
  EXPECT_FALSE(std::get<poll_query>(parse_poll_query(none, "since")).since);
  net::query_params bad = {{"since", "12abc"}};
  auto e = parse_poll_query(bad, "since");
  ASSERT_TRUE(std::holds_alternative<std::string>(e));
  EXPECT_EQ(
      std::get<std::string>(e),
      "since: malformed cursor '12abc': expected a stream id like 1700000000000-0, a legacyId (a "
      "non-negative integer), or 0");
}

TEST(PollProtocol, Body) {
  notification_batch b = {n(1700000000000, 0, R"({"a":1})", "task.completed"),
                          n(1700000000000, 1, "[1]", "x\"y")};
  EXPECT_EQ(
      render_poll_body(b, b.back()->legacy_id(), false),
      R"({"notifications":[{"id":1740800000000000,"type":"task.completed","createdAt":"2023-11-14T22:13:20.000Z","payload":{"a":1}},)"
      R"({"id":1740800000000001,"type":"x\"y","createdAt":"2023-11-14T22:13:20.000Z","payload":[1]}],"lastId":1740800000000001})");
  EXPECT_EQ(render_poll_body({}, 77, false), R"({"notifications":[],"lastId":77})");
  EXPECT_EQ(render_poll_body({}, 77, true), R"({"notifications":[],"lastId":77,"reset":true})");
}

TEST(PollProtocol, CutNeverSplitsALegacyIdGroup) {
  // ms 5: seq 0..2 then a tail group (seq >= 1023 share one legacyId).
  notification_batch b = {n(5, 0), n(5, 1), n(5, 1023), n(5, 1024), n(5, 1025), n(6, 0)};
  EXPECT_EQ(cut_batch(b, 3, true).count, 2u);  // cut falls inside the tail: stop before it
  EXPECT_EQ(cut_batch(b, 5, true).count, 5u);  // cut right after the tail
  EXPECT_EQ(cut_batch(b, 2, true).count, 2u);
  notification_batch tail_first = {n(5, 1023), n(5, 1024), n(5, 1025), n(6, 0)};
  auto c = cut_batch(tail_first, 2, true);  // the group starts the batch: send all of it
  EXPECT_EQ(c.count, 3u);
  EXPECT_FALSE(c.need_more);
  notification_batch only_tail = {n(5, 1023), n(5, 1024), n(5, 1025)};
  auto more = cut_batch(only_tail, 2, false);  // the read ended inside the group
  EXPECT_TRUE(more.need_more);
  notification_batch open_tail = {n(1, 0), n(2, 1023), n(2, 1024)};
  auto short_read = cut_batch(open_tail, 5, false);
  EXPECT_EQ(short_read.count, 1u);  // the last group may continue: leave it for the next poll
}

TEST(PollProtocol, LastIdStopsBeforeAnOpenTail) {
  notification_batch sent = {n(5, 1), n(5, 1023), n(5, 1024)};
  // The stream is still in ms 5 and it is recent: re-read the tail next time.
  EXPECT_EQ(last_id_for(sent, 0, stream_id{5, 1024}, 5 + 100), 5u * 1024 + 1022);
  // The stream moved on, or the millisecond is long past: the tail is complete.
  EXPECT_EQ(last_id_for(sent, 0, stream_id{6, 0}, 5 + 100), 5u * 1024 + 1023);
  EXPECT_EQ(last_id_for(sent, 0, stream_id{5, 1024}, 5 + 5000), 5u * 1024 + 1023);
  EXPECT_EQ(last_id_for({}, 99, std::nullopt, 0), 99u);
  notification_batch plain = {n(5, 7)};
  EXPECT_EQ(last_id_for(plain, 0, stream_id{5, 7}, 6), 5u * 1024 + 7);
}

}  // namespace
}  // namespace cutover::legacy
