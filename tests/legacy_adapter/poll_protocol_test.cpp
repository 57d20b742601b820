#include "legacy_adapter/poll_protocol.hpp"

#include <gtest/gtest.h>

namespace cutover::legacy {
namespace {

notification_ptr n(std::uint64_t ms, std::uint64_t seq, std::string data = "{}",
                   std::string type = "t") {
  return std::make_shared<const notification>(stream_id{ms, seq}, "user:1", std::move(type),
                                              std::move(data));
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
  // The stream is still in ms 5 and ingest added to it just now: re-read the tail next time.
  EXPECT_EQ(last_id_for(sent, 0, stream_id{5, 1024}, 1000, 1000 + 100), 5u * 1024 + 1022);
  // The stream moved on, or ingest has been quiet for 2 s: the tail is complete.
  EXPECT_EQ(last_id_for(sent, 0, stream_id{6, 0}, 1000, 1000 + 100), 5u * 1024 + 1023);
  EXPECT_EQ(last_id_for(sent, 0, stream_id{5, 1024}, 1000, 1000 + 5000), 5u * 1024 + 1023);
  EXPECT_EQ(last_id_for({}, 99, std::nullopt, 0, 0), 99u);
  notification_batch plain = {n(5, 7)};
  EXPECT_EQ(last_id_for(plain, 0, stream_id{5, 7}, 6, 6), 5u * 1024 + 7);
}

TEST(PollProtocol, TailMayGrowUntilTheStreamMovesOnOrIngestIsQuietForTwoSeconds) {
  const std::uint64_t ingested = 1'700'000'000'000;
  EXPECT_TRUE(tail_may_grow({5, 1023}, stream_id{5, 1030}, ingested, ingested + 1999));
  EXPECT_FALSE(tail_may_grow({5, 1023}, stream_id{5, 1030}, ingested, ingested + 2000));
  EXPECT_FALSE(tail_may_grow({5, 1023}, stream_id{6, 0}, ingested, ingested));
  EXPECT_TRUE(tail_may_grow({5, 1023}, std::nullopt, ingested, ingested));
  // An id an hour ahead of the clock: its own time says nothing; ingest time closes it.
  const std::uint64_t ahead = ingested + 3'600'000;
  EXPECT_TRUE(tail_may_grow({ahead, 5000}, stream_id{ahead, 5000}, ingested, ingested + 10));
  EXPECT_FALSE(tail_may_grow({ahead, 5000}, stream_id{ahead, 5000}, ingested, ingested + 2000));
}

TEST(PollProtocol, BeforeLastGroupCountsWhatPrecedesTheTail) {
  notification_batch sent = {n(5, 1), n(5, 1023), n(5, 1024)};
  EXPECT_EQ(before_last_group(sent), 1u);
  notification_batch only = {n(5, 1023), n(5, 1024)};
  EXPECT_EQ(before_last_group(only), 0u);
}

}  // namespace
}  // namespace cutover::legacy
