// Cursors after a loss by Redis (DESIGN §3), end to end: the new master fills the lost range
// with entries of its own, and a client that was given one of those comes back with its id.
// Found by the soak (issue 16): a legacy poller whose cursor named such an entry was told
// "reset" on every poll, at once, with the same batch, for as long as nothing newer came.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <string>
#include <vector>

#include "cutover_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::json_field;
using testing::raw_ws;
using testing::redis_client;
using testing::redis_server;

const std::string kStream = "cutover:notifications";

struct poll_answer {
  int status = 0;
  bool reset = false;
  std::vector<std::string> data;  // the items' payloads, in order
  std::uint64_t last_id = 0;
};

poll_answer poll(int port, std::uint64_t since) {
  auto r = http_get(port, "/api/notifications/poll?user=1&since=" + std::to_string(since), {}, 10s);
  poll_answer out;
  out.status = r.status;
  if (r.status != 200) return out;
  auto v = boost::json::parse(r.body).as_object();
  if (const auto* reset = v.if_contains("reset")) out.reset = reset->as_bool();
  for (const auto& n : v.at("notifications").as_array())
    out.data.push_back(boost::json::serialize(n.as_object().at("payload")));
  out.last_id = v.at("lastId").to_number<std::uint64_t>();
  return out;
}

constexpr std::uint64_t legacy(std::uint64_t ms, std::uint64_t seq) {
  return ms * 1024 + seq;
}

// Stored 1-0, 2-0, 3-0; Redis then holds 1-0, 2-0 and entries 2-5, 2-7 of its own: 3-0 is
// lost, (2-0, 3-0] recorded, and 2-5, 2-7 are stored inside that range.
class LostRange : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int k = 1; k <= 3; ++k)
      rc_.command(
          {"XADD", kStream, std::to_string(k) + "-0", "topic", "all", "data", std::to_string(k)});
    // Explicit small ids are from 1970: no age retention.
    srv_ = std::make_unique<cutover_server>(
        redis_, std::vector<std::string>{"--auth", "insecure-query", "--shared-topic", "all",
                                         "--retain-age", "0", "--poll-timeout", "1s"});
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", 3));
    // One atomic step, so no loss check sees the stream half rebuilt.
    rc_.command({"EVAL",
                 "redis.call('DEL', KEYS[1]) "
                 "redis.call('XADD', KEYS[1], '1-0', 'topic', 'all', 'data', '1') "
                 "redis.call('XADD', KEYS[1], '2-0', 'topic', 'all', 'data', '2') "
                 "redis.call('XADD', KEYS[1], '2-5', 'topic', 'all', 'data', '25') "
                 "redis.call('XADD', KEYS[1], '2-7', 'topic', 'all', 'data', '27') return 1",
                 "1", kStream});
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_stream_rewinds_total", 1));
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", 5));
  }
  redis_server redis_;
  redis_client rc_{redis_.port()};
  std::unique_ptr<cutover_server> srv_;
};

TEST_F(LostRange, ALegacyCursorOnAnEntryStoredInsideTheRangeIsAPositionNotAReset) {
  // Given 2-5 by the new data: 2-7 next, no reset.
  auto a = poll(srv_->port(), legacy(2, 5));
  ASSERT_EQ(a.status, 200);
  EXPECT_FALSE(a.reset);
  EXPECT_EQ(a.data, (std::vector<std::string>{"27"}));
  EXPECT_EQ(a.last_id, legacy(2, 7));
  // At 2-7, nothing newer: the poll waits and times out, without a reset.
  auto b = poll(srv_->port(), a.last_id);
  EXPECT_FALSE(b.reset);
  EXPECT_TRUE(b.data.empty());
  // A client that had the lost 3-0 is told, and goes on after the last agreed entry 2-0;
  // the answer's lastId then names 2-7, which is not expired.
  auto c = poll(srv_->port(), legacy(3, 0));
  EXPECT_TRUE(c.reset);
  EXPECT_EQ(c.data, (std::vector<std::string>{"25", "27"}));
  auto d = poll(srv_->port(), c.last_id);
  EXPECT_FALSE(d.reset);
  EXPECT_TRUE(d.data.empty());
}

TEST_F(LostRange, AWebSocketCursorOnAnEntryStoredInsideTheRangeResumesWithoutAReset) {
  raw_ws ws(srv_->port(), "/v1/ws?user=1&since=2-5");
  ASSERT_EQ(json_field(*ws.next_text(), "type"), "hello");
  auto f = ws.next_text();
  ASSERT_TRUE(f);
  EXPECT_EQ(json_field(*f, "type"), "notification") << *f;
  EXPECT_EQ(json_field(*f, "id"), "2-7") << *f;
  // The lost entry's id still resets.
  raw_ws lost(srv_->port(), "/v1/ws?user=1&since=3-0");
  ASSERT_EQ(json_field(*lost.next_text(), "type"), "hello");
  auto r = lost.next_text();
  ASSERT_TRUE(r);
  EXPECT_EQ(json_field(*r, "type"), "reset") << *r;
  EXPECT_EQ(json_field(*r, "oldest"), "2-1") << *r;
}

// Redis kept nothing after the last agreed entry 2-0: the reset's batch is empty, and its
// lastId must move the client to 2-0, or every poll after it is another reset, at once.
TEST(LostRangeEmpty, AResetWithNothingAfterTheAgreedEntryMovesTheLegacyCursorThere) {
  redis_server redis;
  redis_client rc(redis.port());
  for (int k = 1; k <= 3; ++k)
    rc.command(
        {"XADD", kStream, std::to_string(k) + "-0", "topic", "all", "data", std::to_string(k)});
  cutover_server srv(redis, {"--auth", "insecure-query", "--shared-topic", "all", "--retain-age",
                             "0", "--poll-timeout", "1s"});
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 3));
  rc.command({"EVAL",
              "redis.call('DEL', KEYS[1]) "
              "redis.call('XADD', KEYS[1], '1-0', 'topic', 'all', 'data', '1') "
              "redis.call('XADD', KEYS[1], '2-0', 'topic', 'all', 'data', '2') return 1",
              "1", kStream});
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_stream_rewinds_total", 1));
  auto a = poll(srv.port(), legacy(3, 0));
  EXPECT_TRUE(a.reset);
  EXPECT_TRUE(a.data.empty());
  EXPECT_EQ(a.last_id, legacy(2, 0));
  auto t0 = std::chrono::steady_clock::now();
  auto b = poll(srv.port(), a.last_id);
  EXPECT_FALSE(b.reset);
  EXPECT_TRUE(b.data.empty());
  // It waited for its timeout (1 s) instead of answering at once.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  rc.command({"XADD", kStream, "4-0", "topic", "all", "data", "4"});
  auto c = poll(srv.port(), b.last_id);
  EXPECT_FALSE(c.reset);
  EXPECT_EQ(c.data, (std::vector<std::string>{"4"}));
}

// A poll parked at a cursor inside the range when Redis loses it (found by the soak: the next
// arrival woke it after a cursor Redis no longer had, without a reset, and the client never
// learnt the entries it held were gone).
TEST(LostRangeParked, APollParkedInsideTheRangeIsAnsweredWithTheReset) {
  redis_server redis;
  redis_client rc(redis.port());
  for (int k = 1; k <= 3; ++k)
    rc.command(
        {"XADD", kStream, std::to_string(k) + "-0", "topic", "all", "data", std::to_string(k)});
  cutover_server srv(redis, {"--auth", "insecure-query", "--shared-topic", "all", "--retain-age",
                             "0", "--poll-timeout", "20s"});
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 3));
  auto parked = std::async(std::launch::async, [&] { return poll(srv.port(), legacy(3, 0)); });
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_waiting_polls", 1));
  auto t0 = std::chrono::steady_clock::now();
  rc.command({"EVAL",
              "redis.call('DEL', KEYS[1]) "
              "redis.call('XADD', KEYS[1], '1-0', 'topic', 'all', 'data', '1') "
              "redis.call('XADD', KEYS[1], '2-0', 'topic', 'all', 'data', '2') return 1",
              "1", kStream});
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_stream_rewinds_total", 1));
  rc.command({"XADD", kStream, "4-0", "topic", "all", "data", "4"});
  auto a = parked.get();
  EXPECT_TRUE(a.reset);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);  // answered by the loss, not the timeout
  // Told from the last agreed entry 2-0 on: 4-0 now or at the next poll, never lost.
  std::vector<std::string> got = a.data;
  if (got.empty()) {
    EXPECT_EQ(a.last_id, legacy(2, 0));
    auto b = poll(srv.port(), a.last_id);
    EXPECT_FALSE(b.reset);
    got = b.data;
  }
  EXPECT_EQ(got, (std::vector<std::string>{"4"}));
}

}  // namespace
}  // namespace cutover
