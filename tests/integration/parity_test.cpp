// The proof of "drop-in" (issue 5): the same scripted client sequences against the old
// system (tools/legacy_sim, the thread-per-request sleep-loop poller) and against
// Cutover, on the same store. Status codes and bodies must match field for field;
// only timing may differ.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cutover_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::json_field;
using testing::redis_client;
using testing::redis_server;
using testing::subprocess;
namespace json = boost::json;

class Parity : public ::testing::Test {
 protected:
  void SetUp() override {
    cutover_ = std::make_unique<cutover_server>(
        redis_, std::vector<std::string>{"--auth", "insecure-query", "--shared-topic", "all",
                                         "--poll-timeout", "1s", "--poll-batch", "3"});
    legacy_ = subprocess::spawn({LEGACY_SIM_BIN, "--listen", "127.0.0.1:0", "--db", cutover_->db(),
                                 "--allow-user-param", "--shared-topic", "all", "--poll-timeout",
                                 "1s", "--poll-batch", "3"});
    auto line = legacy_->wait_for_line("legacy_sim: listening on http://", 20s);
    ASSERT_TRUE(line) << legacy_->output();
    legacy_port_ = std::stoi(line->substr(line->rfind(':') + 1));
  }

  void publish(const std::string& topic, const std::string& data,
               const std::string& type = "task.completed") {
    pub_.xadd("cutover:notifications", {{"topic", topic}, {"type", type}, {"data", data}});
    ++published_;
  }
  void settle() {
    ASSERT_TRUE(cutover_->wait_metric_at_least("cutover_ingest_entries_total", published_));
  }

  // One request against both; returns Cutover's reply after checking they agree.
  testing::http_reply both(const std::string& target, bool compare_message = true) {
    auto old_reply = http_get(legacy_port_, target);
    auto new_reply = http_get(cutover_->port(), target);
    EXPECT_EQ(new_reply.status, old_reply.status)
        << target << "\nold: " << old_reply.body << "\nnew: " << new_reply.body;
    EXPECT_EQ(new_reply.headers["content-type"].substr(0, 16),
              old_reply.headers["content-type"].substr(0, 16));
    boost::system::error_code e1, e2;
    auto a = json::parse(old_reply.body, e1);
    auto b = json::parse(new_reply.body, e2);
    EXPECT_FALSE(e1) << old_reply.body;
    EXPECT_FALSE(e2) << new_reply.body;
    if (!compare_message && a.is_object() && b.is_object()) {
      a.as_object().erase("message");
      b.as_object().erase("message");
    }
    EXPECT_EQ(a, b) << target << "\nold: " << old_reply.body << "\nnew: " << new_reply.body;
    return new_reply;
  }

  redis_server redis_;
  redis_client pub_{redis_.port()};
  std::unique_ptr<cutover_server> cutover_;
  std::unique_ptr<subprocess> legacy_;
  int legacy_port_ = 0;
  double published_ = 0;
};

TEST_F(Parity, BacklogAndPagingThroughBatches) {
  publish("user:1", R"({"task":1,"ok":true})");
  publish("all", R"("maintenance at 5")", "notice");
  publish("user:2", R"({"task":2})");
  for (int i = 0; i < 7; ++i)
    publish("user:1", R"({"n":)" + std::to_string(i) + R"(,"x":1.50,"s":"\u00e9\n"})");
  settle();
  // Page through user 1's notifications three at a time, following lastId on both sides.
  std::string since = "0";
  int pages = 0, seen = 0;
  while (true) {
    auto r = both("/api/notifications/poll?user=1&since=" + since);
    auto body = json::parse(r.body).as_object();
    auto n = body["notifications"].as_array().size();
    if (n == 0) break;
    EXPECT_LE(n, 3u);
    seen += static_cast<int>(n);
    ++pages;
    since = json::serialize(body["lastId"]);
  }
  EXPECT_EQ(seen, 9);  // 1 + 7 for user 1, plus the shared one
  EXPECT_EQ(pages, 3);
}

TEST_F(Parity, EmptyWaitTimesOutWithLastIdEchoingSince) {
  publish("user:1", "1");
  settle();
  auto first = both("/api/notifications/poll?user=1&since=0");
  auto last = json::serialize(json::parse(first.body).at("lastId"));
  both("/api/notifications/poll?user=1&since=" + last);  // waits 1 s on both, then empty
  both("/api/notifications/poll?user=1");                // no since: the newest id, then empty
  both("/api/notifications/poll?user=9&since=99999999999999999");  // ahead of the store: waits,
                                                                   // empty
}

TEST_F(Parity, StreamIdCursorsAndTails) {
  publish("user:1", "1");
  publish("user:1", "2");
  settle();
  auto first = json::parse(both("/api/notifications/poll?user=1&since=0").body)
                   .at("notifications")
                   .as_array();
  ASSERT_EQ(first.size(), 2u);
  auto id0 = first[0].at("id").to_number<std::uint64_t>();
  both("/api/notifications/poll?user=1&since=" + std::to_string(id0 / 1024) + "-" +
       std::to_string(id0 % 1024));
  both("/api/notifications/poll?user=1&since=" +
       std::to_string(id0 / 1024 * 1024 + 1023));  // after the whole ms
}

TEST_F(Parity, MalformedSinceIs400WithTheSameBody) {
  for (std::string bad :
       {"abc", "1.5", "-1", "1-", "12abc", "0x10", "%20", "1-2-3", "99999999999999999999999"})
    both("/api/notifications/poll?user=1&since=" + bad);
}

TEST_F(Parity, NoIdentityIs401) {
  // The 401 wording differs by auth mode; status and error slug must match.
  both("/api/notifications/poll?since=0", /*compare_message=*/false);
  both("/api/notifications/poll", /*compare_message=*/false);
}

}  // namespace
}  // namespace cutover
