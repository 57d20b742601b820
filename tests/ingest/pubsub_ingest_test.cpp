// Pub/sub compatibility ingest against a real redis-server: delivery, local ids after the
// store's newest id, dead letters, the startup warning, resubscribe after CLIENT KILL.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "ingest_fixtures.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_server;
using testing::temp_dir;

class PubsubIngest : public ::testing::Test {
 protected:
  std::string db() const { return dir_.file("store.db"); }
  long long publish(const std::string& topic, const std::string& message) {
    auto r = client_.command({"PUBLISH", std::string(kPubsubPrefix) + topic, message});
    EXPECT_EQ(r->type, REDIS_REPLY_INTEGER);
    return r->integer;
  }

  temp_dir dir_;
  redis_server redis_;
  redis_client client_{redis_.port()};
  log_capture log_;
};

TEST_F(PubsubIngest, DeliversMessagesWithLocalIdsAfterTheStoresNewestAndWarns) {
  // A stream entry from the future: pub/sub ids must still come after it.
  auto future_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(24))
                       .count();
  std::string future_id = std::to_string(future_ms) + "-5";
  client_.command({"XADD", kDefaultStream, future_id, "topic", "all", "data", "0"});

  auto opt = test_options(db(), redis_.url(), &log_);
  opt.pubsub = true;
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  auto warning = log_.wait_for("pub/sub ingest");
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("fire-and-forget"), std::string::npos);
  EXPECT_NE(warning->find("instance-local"), std::string::npos);
  EXPECT_EQ(warning->rfind("cutover: ingest: warning:", 0), 0u) << *warning;
  ASSERT_TRUE(l.wait_for_count(1));
  ASSERT_TRUE(log_.wait_for("subscribed to cutover:topic:*"));

  EXPECT_EQ(publish("user:7", "{\"type\": \"task.done\", \"data\": {\"a\": 1}}"), 1);
  EXPECT_EQ(publish("all", "[1, 2]"), 1);
  EXPECT_EQ(publish("user:7", "not json"), 1);
  EXPECT_EQ(publish("user:8", "{\"type\":\"x\",\"data\":2,\"extra\":3}"), 1);
  ASSERT_TRUE(l.wait_for_count(4));

  auto rows = stored_rows(db());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (row{future_id, "all", "", "0"}));
  EXPECT_EQ(rows[1].topic, "user:7");
  EXPECT_EQ(rows[1].type, "task.done");
  EXPECT_EQ(rows[1].data, "{\"a\":1}");
  EXPECT_EQ(rows[2].topic, "all");
  EXPECT_EQ(rows[2].type, "");
  EXPECT_EQ(rows[2].data, "[1,2]");
  EXPECT_EQ(rows[3].topic, "user:8");
  EXPECT_EQ(rows[3].data,
            "{\"type\":\"x\",\"data\":2,\"extra\":3}");  // not an envelope: all of it is data
  auto got = l.all();
  ASSERT_EQ(got.size(), 4u);
  for (std::size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1]->id, got[i]->id);
  EXPECT_EQ(got[1]->id, (stream_id{static_cast<std::uint64_t>(future_ms), 6}));

  auto dead = dead_rows(db());
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].source, "cutover:topic:user:7");
  EXPECT_EQ(dead[0].entry_id, "");
  EXPECT_EQ(dead[0].raw, "{\"channel\":\"cutover:topic:user:7\",\"message\":\"not json\"}");
  EXPECT_NE(dead[0].reason.find("not JSON"), std::string::npos);
  auto s = ing.snapshot();
  EXPECT_EQ(s.pubsub_messages, 4u);
  EXPECT_EQ(s.dead_letters, 1u);
  EXPECT_EQ(s.state, link_state::connected);
}

TEST_F(PubsubIngest, ResubscribesAfterClientKill) {
  auto opt = test_options(db(), redis_.url(), &log_);
  opt.pubsub = true;
  opt.streams.clear();  // pub/sub only
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(log_.wait_for("subscribed to"));
  publish("a", "1");
  ASSERT_TRUE(l.wait_for_count(1));
  auto killed = client_.command({"CLIENT", "KILL", "TYPE", "pubsub"});
  ASSERT_GE(killed->integer, 1);
  ASSERT_TRUE(log_.wait_for("resubscribed to")) << log_.text();
  EXPECT_TRUE(log_.wait_for("messages published meanwhile are lost"));
  publish("a", "2");
  ASSERT_TRUE(l.wait_for_count(2));
  auto rows = stored_rows(db());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].data, "2");
  EXPECT_GE(ing.snapshot().reconnects, 1u);
}

TEST_F(PubsubIngest, WarningGoesToStderrWithThePrefixByDefault) {
  auto opt = test_options(db(), redis_.url());
  opt.pubsub = true;
  recording_listener l;
  ::testing::internal::CaptureStderr();
  {
    ingest ing(opt, l);
    ASSERT_TRUE(ing.start().ok());
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cutover: ingest: warning: pub/sub ingest (PSUBSCRIBE cutover:topic:*) is "
                     "fire-and-forget "
                     "and instance-local"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace cutover::ingest::test
