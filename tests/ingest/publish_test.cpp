// Publishing into the stream: xadd_notification and the background publisher, against a
// real redis-server.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <future>
#include <thread>

#include "ingest/stop_signal.hpp"
#include "ingest_fixtures.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_server;

const std::string kStream = "pub:test";

class Publish : public ::testing::Test {
 protected:
  // The stream's entries as (id, flat field list).
  std::vector<std::pair<std::string, std::vector<std::string>>> entries() {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    for (auto& e : client_->xrange(kStream)) out.emplace_back(std::move(e.id), std::move(e.fields));
    return out;
  }

  redis_server redis_;
  std::unique_ptr<redis_client> client_ = std::make_unique<redis_client>(redis_.port());
};

redis_connection connect_or_die(const std::string& url) {
  auto c = redis_connection::connect(url, {});
  EXPECT_TRUE(c.ok()) << (c ? "" : c.err().message);
  return std::move(c.value());
}

TEST_F(Publish, XaddNotificationValidatesCompactsAndReturnsTheId) {
  auto c = connect_or_die(redis_.url());
  decoded_entry e{"user:1", "task.done", "{ \"a\" : [1, 2] }", std::string("k-1")};
  auto id = xadd_notification(c, kStream, e, 1000, {{"replayOf", "1-1"}});
  ASSERT_TRUE(id.ok()) << id.err().message;
  auto all = entries();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, id->str());
  EXPECT_EQ(all[0].second,
            (std::vector<std::string>{"topic", "user:1", "type", "task.done", "data",
                                      "{\"a\":[1,2]}", "key", "k-1", "replayOf", "1-1"}));

  // Refused entries never reach the stream.
  for (auto bad : {decoded_entry{"user:1", "", "{nope", std::nullopt},
                   decoded_entry{"", "", "1", std::nullopt},
                   decoded_entry{"user:1", "", "1", std::string("")}}) {
    auto r = xadd_notification(c, kStream, bad, 1000);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::invalid_entry) << r.err().message;
  }
  auto dup = xadd_notification(c, kStream, e, 1000, {{"topic", "again"}});
  EXPECT_EQ(dup.err().code, errc::invalid_entry);
  EXPECT_EQ(entries().size(), 1u);

  auto args = xadd_arguments(kStream, decoded_entry{"t", "", "1", std::nullopt}, 1000000);
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, (std::vector<std::string>{"XADD", kStream, "MAXLEN", "~", "1000000", "*",
                                             "topic", "t", "data", "1"}));
  auto untrimmed = xadd_arguments(kStream, decoded_entry{"t", "", "1", std::nullopt}, 0);
  EXPECT_EQ(*untrimmed,
            (std::vector<std::string>{"XADD", kStream, "*", "topic", "t", "data", "1"}));

  client_->command({"SET", "plain", "x"});
  auto wrong = xadd_notification(c, "plain", e, 10);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.err().code, errc::redis_reply);
  EXPECT_NE(wrong.err().message.find("WRONGTYPE"), std::string::npos);
}

TEST_F(Publish, PublisherReturnsTheNewId) {
  publisher p(redis_.url(), kStream, 1000);
  std::vector<std::promise<result<stream_id>>> done(3);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(
        p.publish(decoded_entry{"user:" + std::to_string(i), "t", std::to_string(i), std::nullopt},
                  [&done, i](result<stream_id> r) { done[i].set_value(std::move(r)); }));
  std::vector<std::string> ids;
  for (auto& d : done) {
    auto f = d.get_future();
    ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.err().message;
    ids.push_back(r->str());
  }
  auto all = entries();
  ASSERT_EQ(all.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(all[i].first, ids[i]);
    EXPECT_EQ(all[i].second[1], "user:" + std::to_string(i));
  }
  EXPECT_TRUE(p.connected());
}

result<stream_id> publish_one(publisher& p, decoded_entry e) {
  std::promise<result<stream_id>> done;
  auto f = done.get_future();
  EXPECT_TRUE(
      p.publish(std::move(e), [&done](result<stream_id> r) { done.set_value(std::move(r)); }));
  EXPECT_EQ(f.wait_for(kWait), std::future_status::ready);
  return f.get();
}

TEST_F(Publish, PublishReplicasAnswersOnlyWhatWaitConfirmed) {
  // No replica: WAIT 1 confirms nothing, the retry neither; the answer is an error (503).
  publisher alone(redis_.url(), kStream, 1000, 100, {}, /*replicas=*/1,
                  std::chrono::milliseconds(100));
  auto r = publish_one(alone, decoded_entry{"user:1", "t", "1", std::nullopt});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::connection);
  EXPECT_NE(r.err().message.find("not confirmed by 1 replicas after a retry"), std::string::npos)
      << r.err().message;
  // Both sends carried the same generated key: the store keeps one.
  auto all = entries();
  ASSERT_EQ(all.size(), 2u);
  auto key = [](const std::vector<std::string>& f) {
    for (std::size_t i = 0; i + 1 < f.size(); i += 2)
      if (f[i] == "key") return f[i + 1];
    return std::string();
  };
  EXPECT_FALSE(key(all[0].second).empty());
  EXPECT_EQ(key(all[0].second), key(all[1].second));

  // With a replica following, it is confirmed and answered with the id.
  testing::redis_options ro;
  ro.extra_args = {"--replicaof", "127.0.0.1", std::to_string(redis_.port())};
  redis_server replica(ro);
  ASSERT_TRUE(replica.process().wait_for_line("sync: Finished with success", kWait));
  publisher backed(redis_.url(), kStream, 1000, 100, {}, 1, std::chrono::milliseconds(2000));
  auto ok = publish_one(backed, decoded_entry{"user:1", "t", "2", std::string("mine")});
  ASSERT_TRUE(ok.ok()) << ok.err().message;
  EXPECT_EQ(entries().back().first, ok->str());
  EXPECT_EQ(key(entries().back().second), "mine");
}

TEST_F(Publish, PublisherAnswersWithAnErrorWhenRedisIsDown) {
  publisher p(redis_.url(), kStream, 1000);
  redis_.kill();
  std::promise<result<stream_id>> done;
  ASSERT_TRUE(p.publish(decoded_entry{"user:1", "", "1", std::nullopt},
                        [&](result<stream_id> r) { done.set_value(std::move(r)); }));
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  auto r = f.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::connection);
  EXPECT_NE(r.err().message.find("Redis unavailable"), std::string::npos) << r.err().message;
}

TEST_F(Publish, PublisherReconnectsByItselfAfterARedisRestart) {
  publisher p(redis_.url(), kStream, 1000);
  auto publish_one = [&](const std::string& data) {
    std::promise<result<stream_id>> done;
    EXPECT_TRUE(p.publish(decoded_entry{"user:1", "", data, std::nullopt},
                          [&](result<stream_id> r) { done.set_value(std::move(r)); }));
    auto f = done.get_future();
    EXPECT_EQ(f.wait_for(kWait), std::future_status::ready);
    return f.get();
  };
  ASSERT_TRUE(publish_one("1").ok());
  redis_.restart();  // the publisher's idle connection is gone; no error is due to anyone
  auto r = publish_one("2");
  ASSERT_TRUE(r.ok()) << r.err().message;
  client_ = std::make_unique<redis_client>(redis_.port());
  EXPECT_EQ(entries().size(), 1u);  // no persistence in this fixture: only the new entry
}

TEST_F(Publish, PublisherRefusesWhenTheQueueIsFullAndAnswersEveryAcceptedEntryOnce) {
  publisher p(redis_.url(), kStream, 1000, /*queue_limit=*/1);
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> first_calls{0}, second_calls{0};
  // The first callback holds the publisher thread, so the queue cannot drain.
  ASSERT_TRUE(p.publish(decoded_entry{"a", "", "1", std::nullopt}, [&](result<stream_id> r) {
    EXPECT_TRUE(r.ok());
    ++first_calls;
    entered.set_value();
    released.wait();
  }));
  entered.get_future().wait();
  std::promise<result<stream_id>> second;
  ASSERT_TRUE(p.publish(decoded_entry{"a", "", "2", std::nullopt}, [&](result<stream_id> r) {
    ++second_calls;
    second.set_value(std::move(r));
  }));
  EXPECT_FALSE(p.publish(decoded_entry{"a", "", "3", std::nullopt},
                         [](result<stream_id>) { ADD_FAILURE(); }));
  release.set_value();
  auto f = second.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(f.get().ok());
  p.stop();
  EXPECT_FALSE(p.publish(decoded_entry{"a", "", "4", std::nullopt},
                         [](result<stream_id>) { ADD_FAILURE(); }));
  EXPECT_EQ(first_calls.load(), 1);
  EXPECT_EQ(second_calls.load(), 1);
  EXPECT_EQ(entries().size(), 2u);
}

TEST_F(Publish, PublisherReportsInvalidEntries) {
  publisher p(redis_.url(), kStream, 1000);
  std::promise<result<stream_id>> done;
  ASSERT_TRUE(p.publish(decoded_entry{"user:1", "", "{bad", std::nullopt},
                        [&](result<stream_id> r) { done.set_value(std::move(r)); }));
  auto r = done.get_future().get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_entry);
  EXPECT_TRUE(entries().empty());
}

TEST_F(Publish, StopSignalAbandonsAWaitingReply) {
  stop_signal stop;
  auto conn = redis_connection::connect(
      redis_.url(), {std::chrono::seconds(1), std::chrono::seconds(30), stop.fd()});
  ASSERT_TRUE(conn.ok());
  std::thread stopper;
  conn->append(std::initializer_list<std::string_view>{"BLPOP", "never", "20"});
  ASSERT_TRUE(conn->flush().ok());
  auto t0 = std::chrono::steady_clock::now();
  stopper = std::thread([&] { stop.request(); });
  auto r = conn->receive(std::chrono::seconds(30));
  stopper.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::stopped);
  EXPECT_TRUE(conn->broken());
  // Not the 20 s BLPOP: a stop that went unnoticed would wait for the reply that long.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(Publish, ConnectErrorsAreValuesWithTheEndpoint) {
  int port = testing::free_port();
  auto c = redis_connection::connect("redis://127.0.0.1:" + std::to_string(port), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.err().code, errc::connection);
  EXPECT_NE(c.err().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << c.err().message;
  auto bad = redis_connection::connect("redis://", {});
  EXPECT_EQ(bad.err().code, errc::bad_url);
}

}  // namespace
}  // namespace cutover::ingest::test
