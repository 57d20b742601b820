// The origin check of DESIGN §7 against the real binary: raw handshakes for every rule,
// and headless Chromium for the attack itself (a page of another origin, the victim's
// cookie in the browser). Every refusal has a control that is served, so each assertion
// can fail.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cutover_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::json_field;
using testing::raw_ws;
using testing::redis_server;

constexpr const char* kSecret = "origin-test-secret";

class Origin : public ::testing::Test {
 protected:
  void SetUp() override { redis_.start(); }
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags{"--auth", "token", "--token-secret", kSecret};
    flags.insert(flags.end(), extra.begin(), extra.end());
    srv_ = std::make_unique<cutover_server>(redis_, flags);
    token_ = testing::mint_token(kSecret, "victim");
  }
  std::string self() const { return "127.0.0.1:" + std::to_string(srv_->port()); }
  // A handshake carrying the victim's cookie, as a browser sends it.
  std::unique_ptr<raw_ws> upgrade(std::map<std::string, std::string> headers) {
    headers["Cookie"] = "cutover_token=" + token_;
    if (!headers.count("Host")) headers["Host"] = self();
    return std::make_unique<raw_ws>(srv_->port(), "/v1/ws", 0, headers);
  }

  redis_server redis_;
  std::unique_ptr<cutover_server> srv_;
  std::string token_;
};

TEST_F(Origin, WebSocketFromAnotherOriginIsRefusedBeforeIdentity) {
  start();
  auto ws = upgrade({{"Origin", "http://evil.example"}});
  EXPECT_EQ(ws->handshake_status(), 403);
  EXPECT_EQ(json_field(ws->handshake_body(), "error"), "forbidden");
  EXPECT_NE(json_field(ws->handshake_body(), "message").find("http://evil.example"),
            std::string::npos);
  EXPECT_EQ(srv_->metric("cutover_origin_refusals_total"), 1);
  // Same host, another port is another origin.
  auto other_port = upgrade({{"Origin", "http://127.0.0.1:1"}});
  EXPECT_EQ(other_port->handshake_status(), 403);
  // An opaque origin (sandboxed iframe, file://) is refused too.
  auto opaque = upgrade({{"Origin", "null"}});
  EXPECT_EQ(opaque->handshake_status(), 403);
  EXPECT_EQ(srv_->metric("cutover_origin_refusals_total"), 3);
}

TEST_F(Origin, SameOriginAndNoOriginAreServed) {
  start();
  auto same = upgrade({{"Origin", "http://" + self()}});
  ASSERT_EQ(same->handshake_status(), 101);
  EXPECT_EQ(json_field(*same->next_text(), "type"), "hello");
  auto none = upgrade({});
  ASSERT_EQ(none->handshake_status(), 101);
  EXPECT_EQ(json_field(*none->next_text(), "type"), "hello");
  EXPECT_EQ(srv_->metric("cutover_origin_refusals_total"), 0);
}

TEST_F(Origin, AllowListedOriginsAreServedAndOnlyThey) {
  start({"--allow-origin", "https://app.example", "--allow-origin", "http://localhost:3000"});
  auto app = upgrade({{"Origin", "https://app.example"}});
  EXPECT_EQ(app->handshake_status(), 101);
  auto dev = upgrade({{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(dev->handshake_status(), 101);
  auto http_app = upgrade({{"Origin", "http://app.example"}});  // scheme differs
  EXPECT_EQ(http_app->handshake_status(), 403);
  auto sub = upgrade({{"Origin", "https://evil.app.example"}});
  EXPECT_EQ(sub->handshake_status(), 403);
}

TEST_F(Origin, ForwardedProtoCountsOnlyFromATrustedPeer) {
  // Untrusted: X-Forwarded-Proto is ignored, host and port decide.
  start();
  auto untrusted = upgrade({{"Origin", "http://" + self()}, {"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(untrusted->handshake_status(), 101);
  srv_.reset();
  // Trusted (loopback is the proxy): the scheme must match what the proxy says.
  start({"--trusted-peer", "127.0.0.0/8"});
  auto mismatch = upgrade(
      {{"Origin", "http://app.example"}, {"Host", "app.example"}, {"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(mismatch->handshake_status(), 403);
  auto match = upgrade(
      {{"Origin", "https://app.example"}, {"Host", "app.example"}, {"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(match->handshake_status(), 101);
}

TEST_F(Origin, BadAllowOriginFlagIsAUsageError) {
  auto p = testing::subprocess::spawn({CUTOVER_BIN, "serve", "--auth", "insecure-query",
                                       "--allow-origin", "https://app.example/path", "--db",
                                       "/nonexistent/never-created.db"});
  EXPECT_EQ(p->wait_exit(10s), 2);
  EXPECT_NE(p->output().find("--allow-origin: 'https://app.example/path' is not an origin"),
            std::string::npos)
      << p->output();
}

// The attack in a real browser: the victim's cookie for Cutover's host is in Chromium; a
// page on another origin opens the WebSocket. Refused; the control run with that origin
// allowed gets the hello, so the browser did send the cookie and the refusal is ours.
TEST_F(Origin, ChromiumPageOfAnotherOriginCannotReadTheVictimsStream) {
  int page_port = testing::free_port();
  start({"--allow-origin", "http://127.0.0.1:" + std::to_string(testing::free_port())});
  auto r = testing::run_node(
      "cross_origin.mjs", {std::to_string(srv_->port()), token_, "ws", std::to_string(page_port)});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = boost::json::parse(r.last_line).as_object();
  EXPECT_FALSE(out.at("opened").as_bool()) << r.last_line;
  EXPECT_TRUE(out.at("frames").as_array().empty()) << r.last_line;
  EXPECT_GE(*srv_->metric("cutover_origin_refusals_total"), 1);

  srv_.reset();
  start({"--allow-origin", "http://127.0.0.1:" + std::to_string(page_port)});
  auto ok = testing::run_node(
      "cross_origin.mjs", {std::to_string(srv_->port()), token_, "ws", std::to_string(page_port)});
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  auto allowed = boost::json::parse(ok.last_line).as_object();
  EXPECT_TRUE(allowed.at("opened").as_bool())
      << ok.last_line << "\n"
      << srv_->process().output() << "\nrefusals "
      << srv_->metric("cutover_origin_refusals_total").value_or(-1) << " unauthorized "
      << srv_->metric("cutover_unauthorized_total").value_or(-1) << " bad "
      << srv_->metric("cutover_bad_requests_total").value_or(-1) << " accepted "
      << srv_->metric("cutover_accepted_connections_total").value_or(-1);
  ASSERT_EQ(allowed.at("frames").as_array().size(), 1u) << ok.last_line;
  auto hello = allowed.at("frames").as_array()[0].as_object();
  EXPECT_EQ(hello.at("type").as_string(), "hello");
  EXPECT_EQ(hello.at("topics").as_array()[0].as_string(), "user:victim");
}

// The same attack on Socket.IO (issue 12: the cross-site tests grow with each transport): the
// page speaks Engine.IO over a WebSocket to /socket.io/ with the victim's cookie and asks for
// the victim's backlog. Refused; allowed, the control gets the victim's notification.
TEST_F(Origin, ChromiumPageOfAnotherOriginCannotReadTheVictimsSocketIoStream) {
  int page_port = testing::free_port();
  testing::redis_client pub(redis_.port());
  pub.xadd("cutover:notifications", {{"topic", "user:victim"}, {"data", R"("secret")"}});
  start({"--allow-origin", "http://127.0.0.1:" + std::to_string(testing::free_port())});
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", 1));
  auto r = testing::run_node(
      "cross_origin.mjs", {std::to_string(srv_->port()), token_, "sio", std::to_string(page_port)});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = boost::json::parse(r.last_line).as_object();
  EXPECT_FALSE(out.at("opened").as_bool()) << r.last_line;
  EXPECT_TRUE(out.at("frames").as_array().empty()) << r.last_line;
  EXPECT_GE(*srv_->metric("cutover_origin_refusals_total"), 1);

  srv_.reset();
  start({"--allow-origin", "http://127.0.0.1:" + std::to_string(page_port)});
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", 1));
  auto ok = testing::run_node(
      "cross_origin.mjs", {std::to_string(srv_->port()), token_, "sio", std::to_string(page_port)});
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  auto allowed = boost::json::parse(ok.last_line).as_object();
  EXPECT_TRUE(allowed.at("opened").as_bool()) << ok.last_line;
  ASSERT_EQ(allowed.at("frames").as_array().size(), 2u) << ok.last_line;
  auto hello = allowed.at("frames").as_array()[0].as_array();
  EXPECT_EQ(hello.at(0).as_string(), "hello") << ok.last_line;
  auto event = allowed.at("frames").as_array()[1].as_array();
  EXPECT_EQ(event.at(0).as_string(), "notification") << ok.last_line;
  EXPECT_EQ(event.at(1).as_object().at("topic").as_string(), "user:victim") << ok.last_line;
  EXPECT_EQ(event.at(1).as_object().at("data").as_string(), "secret") << ok.last_line;
}

}  // namespace
}  // namespace cutover
