// The pub/sub bridge against a real redis-server (DESIGN §3): the instance holding the
// bridge lock copies each message into the stream, every instance ingests it from there
// with the stream's id; dead letters, the startup warning, resubscribe after CLIENT KILL,
// one copy with two instances, handover when the bridge stops.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "ingest_fixtures.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_server;
using testing::temp_dir;

constexpr std::string_view kBridgeLine = "this instance is the pub/sub bridge";

class PubsubIngest : public ::testing::Test {
 protected:
  std::string db(const std::string& name = "store.db") const { return dir_.file(name); }
  long long publish(const std::string& topic, const std::string& message) {
    auto r = client_.command({"PUBLISH", std::string(kPubsubPrefix) + topic, message});
    EXPECT_EQ(r->type, REDIS_REPLY_INTEGER);
    return r->integer;
  }
  options bridge_options(const std::string& path, log_capture* log) {
    auto opt = test_options(path, redis_.url(), log);
    opt.pubsub = true;
    opt.pubsub_lock_ttl = std::chrono::milliseconds(300);
    return opt;
  }

  temp_dir dir_;
  redis_server redis_;
  redis_client client_{redis_.port()};
  log_capture log_;
};

TEST_F(PubsubIngest, MessagesAreCopiedIntoTheStreamAndStoredWithItsIds) {
  auto opt = bridge_options(db(), &log_);
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  auto warning = log_.wait_for("warning: pub/sub");
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("fire-and-forget"), std::string::npos);
  EXPECT_NE(warning->find("lost"), std::string::npos);
  EXPECT_EQ(warning->rfind("cutover: ingest: warning:", 0), 0u) << *warning;
  ASSERT_TRUE(log_.wait_for(kBridgeLine)) << log_.text();

  EXPECT_EQ(publish("user:7", "{\"type\": \"task.done\", \"data\": {\"a\": 1}}"), 1);
  EXPECT_EQ(publish("all", "[1, 2]"), 1);
  EXPECT_EQ(publish("user:7", "not json"), 1);
  EXPECT_EQ(publish("user:8", "{\"type\":\"x\",\"data\":2,\"extra\":3}"), 1);
  ASSERT_TRUE(l.wait_for_count(3));

  // The stream holds the copies; the store holds them with the stream's ids.
  auto stream = client_.xrange(std::string(kDefaultStream));
  ASSERT_EQ(stream.size(), 3u);
  auto rows = stored_rows(db());
  ASSERT_EQ(rows.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(rows[i].id, stream[i].id);
  EXPECT_EQ(rows[0].topic, "user:7");
  EXPECT_EQ(rows[0].type, "task.done");
  EXPECT_EQ(rows[0].data, "{\"a\":1}");
  EXPECT_EQ(rows[1].topic, "all");
  EXPECT_EQ(rows[1].type, "");
  EXPECT_EQ(rows[1].data, "[1,2]");
  EXPECT_EQ(rows[2].topic, "user:8");
  EXPECT_EQ(rows[2].data,
            "{\"type\":\"x\",\"data\":2,\"extra\":3}");  // not an envelope: all of it is data

  // A message that cannot be a notification never reaches the stream: the bridge keeps it.
  ASSERT_TRUE(log_.wait_for("dead letter from cutover:topic:user:7")) << log_.text();
  auto dead = dead_rows(db());
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].source, "cutover:topic:user:7");
  EXPECT_EQ(dead[0].entry_id, "");
  EXPECT_EQ(dead[0].raw, "{\"channel\":\"cutover:topic:user:7\",\"message\":\"not json\"}");
  EXPECT_NE(dead[0].reason.find("not JSON"), std::string::npos);
  auto s = ing.snapshot();
  EXPECT_EQ(s.pubsub_messages, 4u);
  EXPECT_EQ(s.pubsub_bridged, 3u);
  EXPECT_TRUE(s.bridge_active);
  EXPECT_EQ(s.state, link_state::connected);
}

TEST_F(PubsubIngest, ResubscribesAfterClientKill) {
  auto opt = bridge_options(db(), &log_);
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(log_.wait_for(kBridgeLine));
  publish("a", "1");
  ASSERT_TRUE(l.wait_for_count(1));
  const std::size_t from = log_.size();
  auto killed = client_.command({"CLIENT", "KILL", "TYPE", "pubsub"});
  ASSERT_GE(killed->integer, 1);
  ASSERT_TRUE(log_.wait_for(kBridgeLine, kWait, from)) << log_.text();
  EXPECT_TRUE(log_.wait_for("messages published meanwhile are lost"));
  publish("a", "2");
  ASSERT_TRUE(l.wait_for_count(2));
  auto rows = stored_rows(db());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].data, "2");
}

TEST_F(PubsubIngest, TwoInstancesMakeOneCopyAndTheOtherTakesOverWhenTheBridgeStops) {
  log_capture log_b;
  recording_listener la, lb;
  auto a = std::make_unique<ingest>(bridge_options(db("a.db"), &log_), la);
  ingest b(bridge_options(db("b.db"), &log_b), lb);
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(log_.wait_for(kBridgeLine));
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(log_b.wait_for("connected to")) << log_b.text();
  EXPECT_FALSE(b.snapshot().bridge_active);

  for (int i = 0; i < 50; ++i) publish("user:1", std::to_string(i));
  ASSERT_TRUE(la.wait_for_count(50));
  ASSERT_TRUE(lb.wait_for_count(50));
  EXPECT_EQ(client_.xrange(std::string(kDefaultStream)).size(), 50u);  // one copy each
  EXPECT_EQ(stored_rows(db("a.db")), stored_rows(db("b.db")));

  a->stop();  // hands the lock over
  ASSERT_TRUE(log_b.wait_for(kBridgeLine)) << log_b.text();
  publish("user:1", "50");
  ASSERT_TRUE(lb.wait_for_count(51));
  EXPECT_EQ(client_.xrange(std::string(kDefaultStream)).size(), 51u);
  EXPECT_TRUE(b.snapshot().bridge_active);
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
  EXPECT_NE(err.find("cutover: ingest: warning: pub/sub (PSUBSCRIBE cutover:topic:*) is "
                     "fire-and-forget: one instance at a time"),
            std::string::npos)
      << err;
}

}  // namespace
}  // namespace cutover::ingest::test
