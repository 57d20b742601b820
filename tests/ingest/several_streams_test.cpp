// Several streams (DESIGN §3, §11 "The id rule of several streams") against a real
// redis-server: equal Redis ids in two streams are all stored and delivered once, in the
// same order on two instances, and live publishing to both never delivers out of order
// (the merge watermark).

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <set>

#include "ingest/stream_ids.hpp"
#include "ingest_fixtures.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_server;
using testing::temp_dir;

const std::string kA = "s:a", kB = "s:b";

class SeveralStreams : public ::testing::Test {
 protected:
  options opts(const std::string& db, std::size_t batch = 1000) {
    auto o = test_options(db, redis_.url(), &log_);
    o.streams = {kA, kB};
    o.batch = batch;
    return o;
  }
  void xadd(const std::string& key, const std::string& id, const std::string& data) {
    auto r = client_.command({"XADD", key, id, "topic", "all", "data", data});
    ASSERT_EQ(r->type, REDIS_REPLY_STRING) << (r->str ? r->str : "");
  }
  static void expect_increasing(const std::vector<notification_ptr>& got) {
    for (std::size_t i = 1; i < got.size(); ++i)
      ASSERT_LT(got[i - 1]->id, got[i]->id) << "delivery " << i << " goes back";
  }

  redis_server redis_;
  redis_client client_{redis_.port()};
  temp_dir dir_;
  log_capture log_;
};

TEST(StreamIdRule, EncodesReversiblyAndKeepsOneStreamAsIs) {
  stream_id_rule one(1), three(3);
  EXPECT_EQ(one.encode({5, 7}, 0), (stream_id{5, 7}));
  EXPECT_EQ(three.encode({5, 7}, 2), (stream_id{5, 23}));
  auto o = three.decode({5, 23});
  EXPECT_EQ(o.index, 2u);
  EXPECT_EQ(o.raw, (stream_id{5, 7}));
  EXPECT_FALSE(three.encode({5, stream_id::kSeqTail / 2}, 0));  // scaled seq overflows
  EXPECT_FALSE(three.encode({5, 1}, 3));                        // no such stream
  EXPECT_EQ(three.after({5, 7}, 1), (stream_id{5, 23}));
}

TEST_F(SeveralStreams, EqualIdsInTwoStreamsAreAllStoredOnceInTheSameOrderOnTwoInstances) {
  // The reproduced failure: the same ids in both streams (here explicit, as Redis gives
  // them to two streams written in the same millisecond).
  for (const auto* id :
       {"1700000000000-0", "1700000000000-1", "1700000000001-0", "1700000000002-0"}) {
    xadd(kA, id, "\"a " + std::string(id) + "\"");
    xadd(kB, id, "\"b " + std::string(id) + "\"");
  }
  temp_dir other;
  recording_listener la, lb;
  // Different read batches must not change ids or order.
  ingest a(opts(dir_.file("a.db"), 1), la), b(opts(other.file("b.db"), 100), lb);
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(la.wait_for_count(8)) << la.count() << "\n" << log_.text();
  ASSERT_TRUE(lb.wait_for_count(8));
  auto rows = stored_rows(dir_.file("a.db"));
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows, stored_rows(other.file("b.db")));
  EXPECT_EQ(rows[0], (row{"1700000000000-0", "all", "", "\"a 1700000000000-0\""}));
  EXPECT_EQ(rows[1], (row{"1700000000000-1", "all", "", "\"b 1700000000000-0\""}));
  EXPECT_EQ(rows[2], (row{"1700000000000-2", "all", "", "\"a 1700000000000-1\""}));
  EXPECT_EQ(rows[3], (row{"1700000000000-3", "all", "", "\"b 1700000000000-1\""}));
  EXPECT_EQ(rows[6], (row{"1700000000002-0", "all", "", "\"a 1700000000002-0\""}));
  EXPECT_EQ(rows[7], (row{"1700000000002-1", "all", "", "\"b 1700000000002-0\""}));
  EXPECT_TRUE(dead_rows(dir_.file("a.db")).empty());
  EXPECT_TRUE(dead_rows(other.file("b.db")).empty());
  // Delivered once each, in id order, the same on both.
  auto na = la.all(), nb = lb.all();
  ASSERT_EQ(na.size(), 8u);
  ASSERT_EQ(nb.size(), 8u);
  expect_increasing(na);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(na[i]->id, nb[i]->id);
  EXPECT_EQ(stored_offset(dir_.file("a.db"), kA), "1700000000002-0");
  EXPECT_EQ(stored_offset(dir_.file("a.db"), kB), "1700000000002-0");
}

TEST_F(SeveralStreams, LivePublishingToBothNeverDeliversBehindACursor) {
  recording_listener la, lb;
  temp_dir other;
  ingest a(opts(dir_.file("a.db"), 50), la), b(opts(other.file("b.db")), lb);
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(b.start().ok());
  // Both streams written in the same milliseconds, with Redis's own ids: without the merge
  // watermark an entry of one stream arrives after the other's later id was delivered.
  const std::size_t n = 3000;
  std::vector<std::vector<std::string>> cmds;
  for (std::size_t i = 0; i < n; ++i)
    cmds.push_back({"XADD", i % 3 == 0 ? kB : kA, "*", "topic", "user:" + std::to_string(i % 5),
                    "data", std::to_string(i)});
  for (std::size_t k = 0; k < n; k += 100)
    client_.pipeline(
        std::vector<std::vector<std::string>>(cmds.begin() + k, cmds.begin() + k + 100));
  ASSERT_TRUE(la.wait_for_count(n));
  ASSERT_TRUE(lb.wait_for_count(n));
  auto na = la.all(), nb = lb.all();
  EXPECT_EQ(na.size(), n);
  EXPECT_EQ(nb.size(), n);
  expect_increasing(na);
  expect_increasing(nb);
  std::set<std::string> data;
  for (const auto& e : na) data.insert(e->data);
  EXPECT_EQ(data.size(), n);
  EXPECT_EQ(stored_rows(dir_.file("a.db")), stored_rows(other.file("b.db")));
  EXPECT_TRUE(dead_rows(dir_.file("a.db")).empty());
}

TEST_F(SeveralStreams, AStoreKeepsTheStreamListItWasIngestedWith) {
  xadd(kA, "1-0", "1");
  {
    recording_listener l;
    ingest a(opts(dir_.file("a.db")), l);
    ASSERT_TRUE(a.start().ok());
    ASSERT_TRUE(l.wait_for_count(1));
  }
  auto o = opts(dir_.file("a.db"));
  o.streams = {kB, kA};
  recording_listener l;
  ingest again(o, l);
  auto st = again.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.err().message.find("[s:a s:b]"), std::string::npos) << st.err().message;
  EXPECT_NE(st.err().message.find("same list"), std::string::npos) << st.err().message;
}

}  // namespace
}  // namespace cutover::ingest::test
