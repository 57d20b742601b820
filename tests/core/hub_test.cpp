#include "core/hub.hpp"

#include <gtest/gtest.h>

namespace cutover {
namespace {

notification_ptr n(std::uint64_t ms, std::uint64_t seq, std::string topic,
                   std::size_t data_size = 2) {
  return std::make_shared<const notification>(stream_id{ms, seq}, std::move(topic), "t",
                                              std::string(data_size, '1'));
}

std::vector<std::string> ids(const notification_batch& b) {
  std::vector<std::string> out;
  for (const auto& x : b) out.push_back(x->id.str());
  return out;
}

struct recorder : fanout_target {
  std::vector<shared_batch> got;
  void deliver(shared_batch b) override { got.push_back(std::move(b)); }
};

TEST(Hub, FetchMergesTopicsAfterCursor) {
  hub h(std::nullopt, {});
  h.on_committed({n(1, 0, "a"), n(2, 0, "b"), n(3, 0, "a"), n(4, 0, "c")});
  std::vector<std::string> t = {"a", "b"};
  EXPECT_EQ(ids(*h.fetch(t, {}, 10)), (std::vector<std::string>{"1-0", "2-0", "3-0"}));
  EXPECT_EQ(ids(*h.fetch(t, {1, 0}, 10)), (std::vector<std::string>{"2-0", "3-0"}));
  EXPECT_EQ(ids(*h.fetch(t, {}, 2)), (std::vector<std::string>{"1-0", "2-0"}));
  EXPECT_EQ(h.head(), (stream_id{4, 0}));
}

TEST(Hub, FloorSendsOlderCursorsToTheStore) {
  hub h(stream_id{10, 0}, {});  // the store already held entries up to 10-0
  h.on_committed({n(11, 0, "a")});
  std::vector<std::string> t = {"a"};
  EXPECT_FALSE(h.fetch(t, {5, 0}, 10));  // before the floor: ask the store
  EXPECT_EQ(ids(*h.fetch(t, {10, 0}, 10)), (std::vector<std::string>{"11-0"}));
}

TEST(Hub, EvictionRaisesFloor) {
  hub_limits lim;
  lim.max_entries = 3;
  hub h(std::nullopt, {}, lim);
  h.on_committed({n(1, 0, "a"), n(2, 0, "b"), n(3, 0, "a"), n(4, 0, "a"), n(5, 0, "b")});
  auto s = h.stats();
  EXPECT_EQ(s.cached_entries, 3u);
  EXPECT_EQ(s.floor, (stream_id{2, 0}));
  std::vector<std::string> t = {"a", "b"};
  EXPECT_FALSE(h.fetch(t, {1, 0}, 10));
  EXPECT_EQ(ids(*h.fetch(t, {2, 0}, 10)), (std::vector<std::string>{"3-0", "4-0", "5-0"}));
}

TEST(Hub, ByteBudget) {
  hub_limits lim;
  lim.max_bytes = 10'000;
  hub h(std::nullopt, {}, lim);
  for (std::uint64_t i = 1; i <= 20; ++i) h.on_committed({n(i, 0, "a", 1000)});
  EXPECT_LE(h.stats().cached_bytes, 10'000u);
  EXPECT_GT(h.stats().cached_entries, 0u);
}

TEST(Hub, FoldedMarksLeaveMemoryAndTheFloorStillExpiresTheirCursors) {
  std::map<std::string, stream_id> marks;
  for (std::uint64_t i = 1; i <= 200'000; ++i)
    marks.emplace("user:" + std::to_string(i), stream_id{i, 0});
  hub h(std::nullopt, std::move(marks));
  EXPECT_EQ(h.mark_count(), 200'000u);
  // Only the caller's topics are looked at: its own mark, else nothing.
  std::vector<std::string> t = {"user:150000", "all"};
  auto m = h.marks_for(t);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], (stream_id{150000, 0}));
  EXPECT_FALSE(m[1]);
  // The store folded everything up to 199,000 into its floor.
  h.on_prune_floor({199'000, 0});
  EXPECT_EQ(h.mark_count(), 1'000u) << "marks at or below the floor leave memory";
  m = h.marks_for(t);
  EXPECT_EQ(m[0], (stream_id{199'000, 0}));
  EXPECT_EQ(m[1], (stream_id{199'000, 0})) << "the floor holds for every topic";
  EXPECT_EQ(h.marks_for(std::vector<std::string>{"user:199999"})[0], (stream_id{199'999, 0}));
  EXPECT_TRUE(h.expired(t, {149'999, 0})) << "what the folded mark expired stays expired";
  EXPECT_TRUE(h.expired(std::vector<std::string>{"all"}, {10, 0}));
  EXPECT_FALSE(h.expired(t, {199'000, 0}));
  EXPECT_FALSE(h.expired(t, {0, 0}));     // from the oldest is never expired
  EXPECT_FALSE(h.fetch(t, {10, 0}, 10));  // the store path reports the reset
  h.on_prune_floor({5, 0});               // an older floor never lowers it
  EXPECT_EQ(h.marks_for(t)[1], (stream_id{199'000, 0}));
}

TEST(Hub, ExpiredCursorsAndFanout) {
  hub h(std::nullopt, {{"a", stream_id{5, 0}}});
  recorder r1, r2;
  h.add_target(&r1);
  h.add_target(&r2);
  std::vector<std::string> t = {"a"};
  EXPECT_TRUE(h.expired(t, {4, 0}));
  EXPECT_FALSE(h.expired(t, {5, 0}));
  EXPECT_FALSE(h.expired(t, {0, 0}));    // from the oldest is never expired
  EXPECT_FALSE(h.fetch(t, {4, 0}, 10));  // the store reports the reset
  h.on_pruned({{"a", stream_id{7, 0}}});
  EXPECT_TRUE(h.expired(t, {6, 0}));
  h.on_committed({n(8, 0, "a")});
  ASSERT_EQ(r1.got.size(), 1u);
  EXPECT_EQ(r1.got[0], r2.got[0]);  // one shared batch for every I/O thread
}

TEST(Hub, ALostRangeLeavesMemoryAndExpiresTheCursorsInsideIt) {
  hub h(std::nullopt, {});
  h.on_committed({n(1, 0, "a"), n(2, 0, "a"), n(3, 0, "a"), n(4, 0, "b")});
  std::vector<std::string> t = {"a"};
  // Redis lost 2-0 and 3-0 (DESIGN §3); 1-0 is the last entry both sides agree on.
  h.on_lost({n(2, 0, "a"), n(3, 0, "a")}, {1, 0}, {3, 0});
  EXPECT_FALSE(h.expired(t, {1, 0}));  // at the agreed entry: nothing it saw was lost
  EXPECT_TRUE(h.expired(t, {2, 0}));
  EXPECT_TRUE(h.expired(t, {3, 0}));  // it saw the last lost entry
  EXPECT_FALSE(h.expired(t, {4, 0}));
  EXPECT_EQ(h.lost_resume({2, 0}), (stream_id{1, 1}));
  EXPECT_FALSE(h.fetch(t, {2, 0}, 10)) << "the store path answers with the reset";
  EXPECT_EQ(ids(*h.fetch(t, {1, 0}, 10)), (std::vector<std::string>{}));
  EXPECT_EQ(h.stats().cached_entries, 2u);
}

TEST(Hub, OutOfOrderInsertKeepsTopicsSorted) {
  hub h(std::nullopt, {});
  h.on_committed({n(5, 0, "a")});
  h.on_committed({n(3, 0, "a")});
  std::vector<std::string> t = {"a"};
  EXPECT_EQ(ids(*h.fetch(t, {}, 10)), (std::vector<std::string>{"3-0", "5-0"}));
}

// ---- delivery before the commit (DESIGN §11) ------------------------------------

struct lost_recorder : recorder {
  std::vector<std::pair<std::string, std::string>> lost_ranges;
  void lost(stream_id after, stream_id through) override {
    lost_ranges.emplace_back(after.str(), through.str());
  }
};

TEST(Hub, DeliveredEntriesAreFannedOutOnceAndKeptUntilTheirCommit) {
  hub h(stream_id{1, 0}, {});
  recorder r;
  h.add_target(&r);
  h.on_delivered({n(2, 0, "a"), n(3, 0, "b")});
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(ids(*r.got[0]), (std::vector<std::string>{"2-0", "3-0"}));
  EXPECT_EQ(h.head(), (stream_id{3, 0}));  // the delivered head
  EXPECT_EQ(h.committed_head(), (stream_id{1, 0}));
  std::vector<std::string> ab = {"a", "b"}, b = {"b"};
  EXPECT_EQ(ids(h.uncommitted_after(ab, {}, 10)), (std::vector<std::string>{"2-0", "3-0"}));
  EXPECT_EQ(ids(h.uncommitted_after(b, {}, 10)), (std::vector<std::string>{"3-0"}));
  EXPECT_EQ(ids(h.uncommitted_after(ab, {2, 0}, 10)), (std::vector<std::string>{"3-0"}));
  EXPECT_EQ(ids(*h.fetch(ab, {1, 0}, 10)), (std::vector<std::string>{"2-0", "3-0"}));
  h.on_delivered({n(3, 0, "b")});  // a re-read: not fanned out twice
  EXPECT_EQ(r.got.size(), 1u);
  // The commit (the writer's own notification objects) fans out nothing more.
  h.on_committed({n(2, 0, "a")});
  EXPECT_EQ(r.got.size(), 1u);
  EXPECT_EQ(ids(h.uncommitted_after(ab, {}, 10)), (std::vector<std::string>{"3-0"}));
  EXPECT_EQ(h.committed_head(), (stream_id{2, 0}));
  EXPECT_EQ(h.stats().uncommitted, 1u);
  // An entry committed without early delivery (--deliver-after-commit) is fanned out then.
  h.on_committed({n(3, 0, "b"), n(4, 0, "a")});
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(ids(*r.got[1]), (std::vector<std::string>{"4-0"}));
  EXPECT_EQ(h.stats().uncommitted, 0u);
}

TEST(Hub, MergeGivesTheStoreReadAndTheUncommittedInIdOrderOnce) {
  auto a = [](std::uint64_t ms) { return n(ms, 0, "a"); };
  EXPECT_EQ(ids(hub::merge({a(1), a(3), a(5)}, {a(2), a(3), a(6)}, 10)),
            (std::vector<std::string>{"1-0", "2-0", "3-0", "5-0", "6-0"}));
  // A full store page: nothing above its last row may come in from the uncommitted side
  // unless the page has room, or an entry between would be skipped.
  EXPECT_EQ(ids(hub::merge({a(1), a(2), a(3)}, {a(7)}, 3)),
            (std::vector<std::string>{"1-0", "2-0", "3-0"}));
  EXPECT_EQ(ids(hub::merge({a(1), a(5)}, {a(2)}, 2)), (std::vector<std::string>{"1-0", "2-0"}));
  EXPECT_EQ(ids(hub::merge({}, {a(2), a(4)}, 10)), (std::vector<std::string>{"2-0", "4-0"}));
}

TEST(Hub, WithdrawnEntriesLeaveAndCursorsUpToTheDeliveredHeadAreReset) {
  hub h(stream_id{1, 0}, {});
  lost_recorder r;
  h.add_target(&r);
  // Two streams (stored seq % 2): 2-0 and 4-0 of stream 0, 3-1 of stream 1.
  h.on_delivered({n(2, 0, "a"), n(3, 1, "a"), n(4, 0, "a")});
  h.on_committed({n(2, 0, "a")});
  std::vector<std::string> t = {"a"};
  // Redis lost what stream 0 delivered after 2-0.
  h.on_withdrawn({2, 0}, {4, 0}, 2, 0);
  EXPECT_EQ(ids(h.uncommitted_after(t, {}, 10)), (std::vector<std::string>{"3-1"}));
  EXPECT_EQ(ids(*h.fetch(t, {1, 0}, 10)), (std::vector<std::string>{"2-0", "3-1"}));
  EXPECT_EQ(h.head(), (stream_id{3, 1}));  // a session starting "from now" starts below 4-0
  ASSERT_EQ(r.lost_ranges.size(), 1u);
  EXPECT_EQ(r.lost_ranges[0], (std::pair<std::string, std::string>{"2-0", "4-0"}));
  EXPECT_TRUE(h.expired(t, {4, 0}));
  EXPECT_TRUE(h.expired(t, {3, 1}));  // in the range: a cursor there may have had 4-0 too
  EXPECT_FALSE(h.expired(t, {2, 0}));
  EXPECT_EQ(h.lost_resume({4, 0}), (stream_id{2, 1}));
}

TEST(Hub, ALossRecedesTheHeadToTheAgreedEntry) {
  hub h(std::nullopt, {});
  h.on_committed({n(1, 0, "a"), n(2, 0, "a"), n(3, 0, "a")});
  h.on_lost({n(2, 0, "a"), n(3, 0, "a")}, {1, 0}, {3, 0});
  EXPECT_EQ(h.head(), (stream_id{1, 0}));
  EXPECT_EQ(h.committed_head(), (stream_id{1, 0}));
}

TEST(Hub, EntriesTheStoreDeclinedLeaveTheDeliveredSet) {
  hub h(std::nullopt, {});
  h.on_delivered({n(1, 0, "a"), n(2, 0, "a")});
  std::vector<stream_id> declined = {{2, 0}};
  h.on_settled(declined);
  std::vector<std::string> t = {"a"};
  EXPECT_EQ(ids(h.uncommitted_after(t, {}, 10)), (std::vector<std::string>{"1-0"}));
  EXPECT_EQ(ids(*h.fetch(t, {}, 10)), (std::vector<std::string>{"1-0"}));
  EXPECT_EQ(h.head(), (stream_id{1, 0}));
}

}  // namespace
}  // namespace cutover
