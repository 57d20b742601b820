// GET /demo and /demo/token against the real binary (serve --demo; DESIGN §11): the page and
// the token minting exist only with --demo, --demo is refused (exit 2) unless --listen is a
// loopback address and auth is token, a demo token identifies on the transports and
// publishes to its own user:<name> only, and headless Chromium connects over each transport,
// clicks publish and sees the notification arrive with its id (screenshots kept).

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>

#include "cutover_proc.hpp"
#include "run_cutover.hpp"
#include "tcp_client.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::http_post;
using testing::json_field;
using testing::redis_server;
using testing::run_cutover;

constexpr const char* kSecret = "demo-test-secret";

class Demo : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    srv_ = std::make_unique<cutover_server>(
        redis_, std::vector<std::string>{"--token-secret", kSecret, "--demo"});
  }
  std::string token_for(const std::string& user) {
    auto r = http_get(srv_->port(), "/demo/token?user=" + user);
    EXPECT_EQ(r.status, 200) << r.body;
    return json_field(r.body, "token");
  }
  redis_server redis_;
  std::unique_ptr<cutover_server> srv_;
};

TEST_F(Demo, PageIsServedFromTheBinaryWithNothingFromOutside) {
  auto r = http_get(srv_->port(), "/demo");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers["content-type"].find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("Cutover demo"), std::string::npos);
  EXPECT_EQ(r.body.find("http://"), std::string::npos);
  EXPECT_EQ(r.body.find("https://"), std::string::npos);
  EXPECT_EQ(r.body.find(kSecret), std::string::npos);
  EXPECT_NE(r.headers["content-security-policy"].find("connect-src 'self'"), std::string::npos);
  EXPECT_TRUE(srv_->process().wait_for_line("demo page: http://127.0.0.1:", 5s))
      << srv_->process().output();
}

TEST_F(Demo, TokenIsMintedForAValidNameOnlyAndFromALoopbackHostOnly) {
  auto r = http_get(srv_->port(), "/demo/token?user=alice");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_field(r.body, "user"), "alice");
  EXPECT_EQ(json_field(r.body, "topic"), "user:alice");
  EXPECT_EQ(json_field(r.body, "expires_in"), "900");
  EXPECT_EQ(json_field(r.body, "poll_path"), "/api/notifications/poll");
  EXPECT_FALSE(json_field(r.body, "token").empty());
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  EXPECT_EQ(http_get(srv_->port(), "/demo/token").status, 400);
  EXPECT_EQ(http_get(srv_->port(), "/demo/token?user=a%20b").status, 400);
  EXPECT_EQ(http_get(srv_->port(), "/demo/token?user=" + std::string(65, 'x')).status, 400);
  // A site whose name resolves to 127.0.0.1 (DNS rebinding) sends its own Host.
  auto rebound = http_get(srv_->port(), "/demo/token?user=alice", {{"Host", "evil.example:8080"}});
  EXPECT_EQ(rebound.status, 403) << rebound.body;
  EXPECT_EQ(rebound.body.find("token\":"), std::string::npos);
  EXPECT_EQ(http_get(srv_->port(), "/demo/token?user=alice", {{"Host", "localhost:1"}}).status,
            200);
}

// At most kDemoTokensPerSecond (20) tokens a second per instance: a burst of 40 (well under a
// second here) gets 429s with Retry-After, never more than 20 tokens in its first second.
TEST_F(Demo, TokenMintingIsBoundedPerSecond) {
  int ok = 0, limited = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) {
    auto r = http_get(srv_->port(), "/demo/token?user=u" + std::to_string(i));
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(r.headers["retry-after"], "1");
    }
    ASSERT_TRUE(r.status == 200 || r.status == 429) << r.status << " " << r.body;
  }
  if (std::chrono::steady_clock::now() - start < 1s) {
    EXPECT_EQ(ok, 20);
    EXPECT_EQ(limited, 20);
  } else {
    EXPECT_GE(limited, 1);  // a slow machine: the window moved on meanwhile
  }
}

TEST_F(Demo, ADemoTokenReadsItsTopicAndPublishesToItOnly) {
  std::string tok = token_for("alice");
  testing::raw_ws ws(srv_->port(), "/v1/ws?access_token=" + tok);
  ASSERT_EQ(ws.handshake_status(), 101) << ws.handshake_body();
  auto hello = ws.next_text();
  ASSERT_TRUE(hello);
  auto own = http_post(srv_->port(), "/v1/publish",
                       R"({"topic":"user:alice","type":"demo.clicked","data":{"n":1}})",
                       {{"Authorization", "Bearer " + tok}});
  ASSERT_EQ(own.status, 202) << own.body;
  auto frame = ws.next_text();
  ASSERT_TRUE(frame);
  EXPECT_EQ(json_field(*frame, "id"), json_field(own.body, "id")) << *frame;
  auto other = http_post(srv_->port(), "/v1/publish", R"({"topic":"user:bob","data":1})",
                         {{"Authorization", "Bearer " + tok}});
  EXPECT_EQ(other.status, 403) << other.body;
  auto shared = http_post(srv_->port(), "/v1/publish", R"({"topic":"all","data":1})",
                          {{"Authorization", "Bearer " + tok}});
  EXPECT_EQ(shared.status, 403) << shared.body;
  // An ordinary user token (--token-secret) identifies, but never publishes.
  auto plain = http_post(srv_->port(), "/v1/publish", R"({"topic":"user:alice","data":1})",
                         {{"Authorization", "Bearer " + testing::mint_token(kSecret, "alice")}});
  EXPECT_EQ(plain.status, 401) << plain.body;
  EXPECT_EQ(http_post(srv_->port(), "/v1/publish", R"({"topic":"user:alice","data":1})").status,
            401);
}

// The page in headless Chromium, every transport in turn: connect, click publish, the
// notification appears with the id the publish answered. Screenshots: build/dev/demo-*.png.
TEST_F(Demo, ChromiumConnectsOverEachTransportAndSeesItsPublishArrive) {
  const std::string prefix = std::string(CUTOVER_BINARY_DIR) + "/demo";
  const std::vector<std::string> transports = {"poll", "websocket", "sse", "socketio"};
  for (const auto& t : transports) std::remove((prefix + "-" + t + ".png").c_str());
  auto r =
      testing::run_node("demo_page.mjs", {std::to_string(srv_->port()), "carol", prefix}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = boost::json::parse(r.last_line).as_object();
  EXPECT_FALSE(out.contains("errors")) << r.last_line;
  for (const auto& t : transports) {
    ASSERT_TRUE(out.contains(t)) << t << ": " << r.last_line;
    const auto& o = out.at(t).as_object();
    auto published = boost::json::value_to<std::string>(o.at("published"));
    auto shown = boost::json::value_to<std::string>(o.at("shown"));
    ASSERT_NE(published.find('-'), std::string::npos) << t << ": " << published;
    if (t == "poll") {  // the legacy poll's items carry the legacyId (DESIGN §2)
      auto ms = std::stoull(published.substr(0, published.find('-')));
      auto seq = std::stoull(published.substr(published.find('-') + 1));
      EXPECT_EQ(shown, std::to_string(ms * 1024 + std::min<unsigned long long>(seq, 1023))) << t;
    } else {
      EXPECT_EQ(shown, published) << t;
    }
    EXPECT_NE(boost::json::value_to<std::string>(o.at("status")).find("connected as carol"),
              std::string::npos)
        << t;
    std::FILE* f = std::fopen((prefix + "-" + t + ".png").c_str(), "rb");
    ASSERT_NE(f, nullptr) << t;
    unsigned char sig[8] = {};
    EXPECT_EQ(std::fread(sig, 1, 8, f), 8u);
    std::fclose(f);
    EXPECT_EQ(sig[1], 'P') << t;  // \x89PNG
  }
  EXPECT_TRUE(srv_->wait_metric_at_least(R"(cutover_deliveries_total{transport="socketio"})", 1));
}

TEST(DemoOff, WithoutDemoThereIsNoPageAndNoToken) {
  redis_server redis;
  redis.start();
  cutover_server srv(redis, {"--token-secret", kSecret});
  EXPECT_EQ(http_get(srv.port(), "/demo").status, 404);
  EXPECT_EQ(http_get(srv.port(), "/demo/token?user=alice").status, 404);
  // Without --demo (and without --admin-token) nothing publishes over HTTP.
  EXPECT_EQ(http_post(srv.port(), "/v1/publish", R"({"topic":"user:alice","data":1})").status, 404);
}

TEST(DemoRefused, ANonLoopbackListenOrAnotherAuthModeExits2) {
  testing::temp_dir dir;
  auto wide = run_cutover({"serve", "--demo", "--listen", "0.0.0.0:0", "--token-secret", kSecret,
                           "--db", dir.file("a.db")});
  EXPECT_EQ(wide.code, 2) << wide.out;
  EXPECT_NE(wide.out.find("--demo"), std::string::npos) << wide.out;
  EXPECT_NE(wide.out.find("loopback"), std::string::npos) << wide.out;
  auto v6 = run_cutover({"serve", "--demo", "--listen", "[::]:0", "--token-secret", kSecret, "--db",
                         dir.file("b.db")});
  EXPECT_EQ(v6.code, 2) << v6.out;
  auto mode =
      run_cutover({"serve", "--demo", "--auth", "insecure-query", "--db", dir.file("c.db")});
  EXPECT_EQ(mode.code, 2) << mode.out;
  EXPECT_NE(mode.out.find("--auth token"), std::string::npos) << mode.out;
}

}  // namespace
}  // namespace cutover
