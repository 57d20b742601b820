// upstream_auth against a real who-am-I endpoint (cpp-httplib on a loopback port): what
// is cached, and that a caller who missed the cache just before another lookup finished
// is answered from that lookup instead of asking again.

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <future>
#include <thread>

#include "net/upstream.hpp"

namespace cutover::net {
namespace {

class UpstreamAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/whoami", [this](const httplib::Request& req, httplib::Response& res) {
      ++asked_;
      if (req.get_header_value("Cookie") == "sid=alice")
        res.set_content(R"({"userId":"alice"})", "application/json");
      else
        res.status = 401;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // bind_to_any_port already listens: connections wait in the backlog until accepted.
    upstream_target t{"127.0.0.1", port_, "", "/whoami"};
    pool_ = std::make_unique<upstream_pool>(t, upstream_options{.threads = 2});
    auth_ = std::make_unique<upstream_auth>(*pool_, upstream_auth_options{});
  }
  void TearDown() override {
    auth_.reset();
    pool_->stop();
    pool_.reset();
    server_.stop();
    thread_.join();
  }
  auth_outcome lookup(std::string_view cookie) {
    std::promise<auth_outcome> p;
    auth_->lookup(cookie, "", [&](auth_outcome o) { p.set_value(std::move(o)); });
    return p.get_future().get();
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> asked_{0};
  std::unique_ptr<upstream_pool> pool_;
  std::unique_ptr<upstream_auth> auth_;
};

TEST_F(UpstreamAuth, AnIdentityIsAskedOnceThenCached) {
  EXPECT_FALSE(auth_->cached("sid=alice", ""));
  auto o = lookup("sid=alice");
  ASSERT_TRUE(o.ok()) << o.reason;
  EXPECT_EQ(o.user, "alice");
  auto again = auth_->cached("sid=alice", "");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->user, "alice");
  EXPECT_EQ(asked_.load(), 1);
  EXPECT_EQ(auth_->stats().calls, 1u);
}

TEST_F(UpstreamAuth, ALookupAfterAnotherFinishedUsesItsAnswer) {
  // Two requests with the same cold credentials: both miss the cache, the first one's
  // lookup completes before the second calls lookup(). One question, both answered.
  EXPECT_FALSE(auth_->cached("sid=alice", ""));
  EXPECT_FALSE(auth_->cached("sid=alice", ""));
  EXPECT_EQ(lookup("sid=alice").user, "alice");
  EXPECT_EQ(lookup("sid=alice").user, "alice");
  EXPECT_EQ(asked_.load(), 1);
  EXPECT_EQ(auth_->stats().calls, 1u);
  EXPECT_EQ(auth_->stats().hits, 1u);
}

TEST_F(UpstreamAuth, RefusalsAreCachedToo) {
  EXPECT_EQ(lookup("sid=mallory").status, 401);
  EXPECT_EQ(lookup("sid=mallory").status, 401);
  EXPECT_EQ(asked_.load(), 1);
}

}  // namespace
}  // namespace cutover::net
