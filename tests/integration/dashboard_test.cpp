// GET /dashboard and its feed against the real binary (DESIGN §8): the admin token guards both
// (no token: 401 and no figure), ?token= becomes an HttpOnly SameSite=Strict cookie and a
// redirect to the bare URL, and /dashboard/events sends a JSON snapshot a second with the
// figures the test's own traffic made.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <cstdio>
#include <optional>
#include <sstream>

#include "cutover_proc.hpp"
#include "tcp_client.hpp"

namespace cutover {
namespace {
using testing::cutover_server;
using testing::http_get;
using testing::redis_server;
using testing::tcp_client;

constexpr const char* kAdmin = "s3cret-admin";

class Dashboard : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    srv_ = std::make_unique<cutover_server>(
        redis_, std::vector<std::string>{"--auth", "insecure-query", "--admin-token", kAdmin});
  }
  // Opens the feed and reads until `n` snapshot events arrived; returns their JSON.
  std::vector<boost::json::object> snapshots(tcp_client& c, std::size_t n) {
    c.send_all(std::string("GET /dashboard/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") +
               kAdmin + "\r\n\r\n");
    std::vector<boost::json::object> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      c.read_some(std::chrono::milliseconds(500));
      out.clear();
      const std::string& in = c.received();
      for (auto at = in.find("data: "); at != std::string::npos; at = in.find("data: ", at)) {
        auto end = in.find("\n\n", at);
        if (end == std::string::npos) break;
        out.push_back(boost::json::parse(in.substr(at + 6, end - at - 6)).as_object());
        at = end;
      }
    }
    return out;
  }
  redis_server redis_;
  std::unique_ptr<cutover_server> srv_;
};

TEST_F(Dashboard, WithoutTheAdminTokenIs401AndShowsNoFigure) {
  for (const char* path : {"/dashboard", "/dashboard/events", "/dashboard?token=wrong"}) {
    auto r = http_get(srv_->port(), path);
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(r.body.find("connections"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("<html"), std::string::npos) << path;
  }
  EXPECT_EQ(http_get(srv_->port(), "/dashboard", {{"Authorization", "Bearer nope"}}).status, 401);
  EXPECT_EQ(http_get(srv_->port(), "/dashboard", {{"Cookie", "cutover_admin=nope"}}).status, 401);
}

TEST_F(Dashboard, TokenInTheQueryBecomesAnHttpOnlyCookieAndARedirect) {
  auto r = http_get(srv_->port(), std::string("/dashboard?token=") + kAdmin);
  ASSERT_EQ(r.status, 303);
  EXPECT_EQ(r.headers["location"], "/dashboard");  // the token leaves the URL
  const auto& cookie = r.headers["set-cookie"];
  EXPECT_NE(cookie.find(std::string("cutover_admin=") + kAdmin), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  auto page = http_get(srv_->port(), "/dashboard",
                       {{"Cookie", std::string("other=1; cutover_admin=") + kAdmin}});
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.headers["content-type"].find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("Cutover dashboard"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);  // nothing from outside the binary
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  auto bearer =
      http_get(srv_->port(), "/dashboard", {{"Authorization", std::string("Bearer ") + kAdmin}});
  EXPECT_EQ(bearer.status, 200);
}

TEST_F(Dashboard, EventsFeedSendsASnapshotASecondWithTheTestsConnections) {
  testing::raw_ws ws(srv_->port(), "/v1/ws?user=7");
  ASSERT_EQ(ws.handshake_status(), 101);
  ASSERT_TRUE(ws.next_text());  // hello: the session is counted
  tcp_client c(srv_->port());
  auto snaps = snapshots(c, 2);  // the second comes from the once-a-second sweep
  ASSERT_GE(snaps.size(), 2u) << c.received();
  EXPECT_NE(c.received().find("Content-Type: text/event-stream"), std::string::npos);
  const auto& s = snaps.back();
  EXPECT_EQ(s.at("connections").at("websocket").as_int64(), 1);
  for (const char* k :
       {"ready", "ingest_lag_ms", "store_commit_p99_s", "dead_letters", "ws_rollout_percent",
        "users_last_hour", "deliveries_per_s", "delivery_latency_s", "waiting_polls", "time_ms",
        "dead_letters_recent", "rewinds", "orphaned", "rewinds_recent", "upstream_errors", "redis"})
    EXPECT_TRUE(s.contains(k)) << k;
  EXPECT_TRUE(s.at("upstream_errors").is_null());  // no --upstream, no --auth upstream
  EXPECT_EQ(s.at("redis").at("state").as_string(), "connected");
  EXPECT_EQ(s.at("rewinds").as_int64(), 0);
  EXPECT_TRUE(s.at("rewinds_recent").as_array().empty());
  // The first snapshot brings the server's own samples (one taken at start), each with
  // connections and users per transport; later ones only samples taken since.
  ASSERT_TRUE(snaps[0].contains("history")) << c.received();
  const auto& h = snaps[0].at("history").as_array();
  ASSERT_GE(h.size(), 1u);
  EXPECT_LE(h[0].at("time_ms").as_int64(), snaps[0].at("time_ms").as_int64());
  EXPECT_TRUE(h[0].at("connections").as_object().contains("websocket"));
  EXPECT_TRUE(h[0].at("users").as_object().contains("2+"));
  if (snaps[1].contains("history")) {  // only when the 10-second sample fell in between
    EXPECT_LE(snaps[1].at("history").as_array().size(), 1u);
  }
  EXPECT_TRUE(s.at("users_last_hour").as_object().contains("2+"));
  EXPECT_TRUE(s.at("delivery_latency_s").at("websocket").at("p99").is_null());  // no traffic yet
  EXPECT_GT(snaps[1].at("time_ms").as_int64(), snaps[0].at("time_ms").as_int64());
}

// Dead letters with their reasons, newest first; latency percentiles interpolated within the
// bucket (one delivery: p50 is the middle of its bucket, never a bucket bound).
TEST_F(Dashboard, FeedShowsDeadLetterReasonsAndInterpolatedLatency) {
  testing::raw_ws ws(srv_->port(), "/v1/ws?user=7");
  ASSERT_TRUE(ws.next_text());
  testing::redis_client rc(redis_.port());
  auto bad = rc.xadd("cutover:notifications", {{"topic", "user:7"}, {"data", "{nope"}});
  rc.command({"XADD", "cutover:notifications", "*", "topic", "user:7", "data", "{}"});
  ASSERT_TRUE(ws.next_text());  // the good one was delivered (after the dead letter)
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_dead_letters_total", 1)) << bad;
  tcp_client c(srv_->port());
  auto snaps = snapshots(c, 1);
  ASSERT_EQ(snaps.size(), 1u) << c.received();
  const auto& s = snaps[0];
  EXPECT_EQ(s.at("dead_letters").as_int64(), 1);
  const auto& recent = s.at("dead_letters_recent").as_array();
  ASSERT_EQ(recent.size(), 1u);
  auto what = boost::json::value_to<std::string>(recent[0].at("what"));
  EXPECT_NE(what.find("cutover:notifications"), std::string::npos) << what;
  EXPECT_NE(what.find(bad), std::string::npos) << what << " " << bad;  // the entry's id
  EXPECT_GT(recent[0].at("time_ms").as_int64(), 0);
  const auto& lat = s.at("delivery_latency_s").at("websocket");
  ASSERT_EQ(lat.at("count").as_int64(), 1);
  double p50 = lat.at("p50").as_double(), p99 = lat.at("p99").as_double();
  EXPECT_LT(p50, p99);
  // The bounds /metrics prints for cutover_delivery_latency_seconds (le="...").
  for (double b : {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0})
    EXPECT_NE(p50, b) << "a bucket bound";
}

// The page in headless Chromium: ?token= leaves the URL, the live feed fills in the test's two
// WebSocket connections and the latency of the one delivery; a screenshot is kept in the
// build directory (dashboard.png).
TEST_F(Dashboard, ChromiumShowsTheLiveFiguresAndKeepsAScreenshot) {
  testing::raw_ws a(srv_->port(), "/v1/ws?user=1");
  testing::raw_ws b(srv_->port(), "/v1/ws?user=2");
  ASSERT_TRUE(a.next_text());
  ASSERT_TRUE(b.next_text());
  testing::redis_client rc(redis_.port());
  rc.command({"XADD", "cutover:notifications", "*", "topic", "user:1", "type", "t", "data", "{}"});
  ASSERT_TRUE(a.next_text());
  rc.command({"XADD", "cutover:notifications", "*", "topic", "user:2", "data", "not json"});
  ASSERT_TRUE(srv_->wait_metric_at_least("cutover_dead_letters_total", 1));
  const std::string png = std::string(CUTOVER_BINARY_DIR) + "/dashboard.png";
  std::remove(png.c_str());
  auto r = testing::run_node("dashboard_page.mjs",
                             {std::to_string(srv_->port()), kAdmin, "2", png, "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = boost::json::parse(r.last_line).as_object();
  EXPECT_EQ(out.at("url").as_string(),
            "http://127.0.0.1:" + std::to_string(srv_->port()) + "/dashboard");
  EXPECT_EQ(out.at("title").as_string(), "Cutover dashboard");
  EXPECT_EQ(out.at("websocket").as_string(), "2");
  EXPECT_EQ(out.at("ready").as_string(), "yes");
  auto latency = boost::json::value_to<std::string>(out.at("latency"));
  EXPECT_NE(latency.find("ms"), std::string::npos) << latency;  // p50 / p99 of the delivery
  EXPECT_EQ(out.at("dead").as_string(), "1");
  ASSERT_EQ(out.at("deadReasons").as_array().size(), 1u) << r.last_line;
  EXPECT_NE(
      boost::json::value_to<std::string>(out.at("deadReasons").at(0)).find("cutover:notifications"),
      std::string::npos)
      << r.last_line;
  EXPECT_EQ(out.at("rewinds").as_string(), "0");
  EXPECT_EQ(out.at("upstream").as_string(), "not configured");
  // The chart draws the server's samples: the first was taken before the page opened.
  EXPECT_GE(out.at("chartPoints").to_number<double>(), 1);
  EXPECT_GE(out.at("usersChartPoints").to_number<double>(), 1);
  EXPECT_LT(out.at("chartOldest").to_number<double>(), out.at("opened").to_number<double>());
  std::FILE* f = std::fopen(png.c_str(), "rb");
  ASSERT_NE(f, nullptr) << png;
  unsigned char sig[8] = {};
  EXPECT_EQ(std::fread(sig, 1, 8, f), 8u);
  std::fclose(f);
  EXPECT_EQ(sig[1], 'P');  // \x89PNG
}

TEST_F(Dashboard, ViewersAreBounded) {
  std::vector<std::unique_ptr<tcp_client>> viewers;
  for (int i = 0; i < 8; ++i) {
    viewers.push_back(std::make_unique<tcp_client>(srv_->port()));
    ASSERT_EQ(snapshots(*viewers.back(), 1).size(), 1u) << i;
  }
  auto r = http_get(srv_->port(), "/dashboard/events",
                    {{"Authorization", std::string("Bearer ") + kAdmin}});
  EXPECT_EQ(r.status, 503);
  viewers.pop_back();  // one leaves: its slot is free again once the server sees the EOF
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool again = false;
  while (!again && std::chrono::steady_clock::now() < deadline) {
    tcp_client c(srv_->port());
    again = snapshots(c, 1).size() == 1;
  }
  EXPECT_TRUE(again);
}

// A rewind (Redis lost entries this store had, DESIGN §3) shows in the feed with its reason:
// ten entries stored, then the stream replaced below the offset while serve was down.
TEST(DashboardRewind, ARewindShowsWithWhatItDid) {
  redis_server redis;
  redis.start();
  testing::temp_dir dir;
  const std::string db = dir.file("cutover.db");
  const std::vector<std::string> flags = {"--auth",        "insecure-query",
                                          "--admin-token", kAdmin,
                                          "--retain-age",  "0"};  // ids of 1970 stay stored
  testing::redis_client rc(redis.port());
  for (int k = 1; k <= 10; ++k)
    rc.command({"XADD", "cutover:notifications", std::to_string(k) + "-0", "topic", "user:1",
                "data", std::to_string(k)});
  {
    cutover_server first(redis, flags, db);
    ASSERT_TRUE(first.wait_metric_at_least("cutover_ingest_entries_total", 10));
  }
  rc.command({"DEL", "cutover:notifications"});
  rc.command({"XADD", "cutover:notifications", "6-0", "topic", "user:1", "data", "\"x6\""});
  rc.command({"XADD", "cutover:notifications", "12-0", "topic", "user:1", "data", "\"x12\""});
  cutover_server srv(redis, flags, db);
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_stream_rewinds_total", 1));
  tcp_client c(srv.port());
  c.send_all(std::string("GET /dashboard/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") +
             kAdmin + "\r\n\r\n");
  std::optional<boost::json::object> snap;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!snap && std::chrono::steady_clock::now() < deadline) {
    c.read_some(std::chrono::milliseconds(500));
    const std::string& in = c.received();
    auto at = in.find("data: ");
    auto end = at == std::string::npos ? at : in.find("\n\n", at);
    if (end != std::string::npos)
      snap = boost::json::parse(in.substr(at + 6, end - at - 6)).as_object();
  }
  ASSERT_TRUE(snap) << c.received();
  EXPECT_EQ(snap->at("rewinds").as_int64(), 1);
  EXPECT_EQ(snap->at("orphaned").as_int64(), 5);
  const auto& recent = snap->at("rewinds_recent").as_array();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(boost::json::value_to<std::string>(recent[0].at("what")),
            "cutover:notifications rewound to 5-0, 5 entries moved to orphans");
}

TEST(DashboardOff, WithoutAnAdminTokenThereIsNoDashboard) {
  redis_server redis;
  redis.start();
  cutover_server srv(redis, {"--auth", "insecure-query"});
  EXPECT_EQ(http_get(srv.port(), "/dashboard").status, 404);
}

}  // namespace
}  // namespace cutover

namespace cutover {
namespace {

// cmd_serve's own lines (serving, SIGTERM, stopped) go through core/log: with
// --log-format json every one is a JSON object with level, time, component and message.
TEST(ServeLog, StartAndStopLinesAreJsonLinesWithLogFormatJson) {
  testing::redis_server redis;
  redis.start();
  testing::cutover_server srv(redis, {"--auth", "insecure-query", "--log-format", "json"});
  ASSERT_TRUE(srv.process().wait_for_line("\"serving ", std::chrono::seconds(10)))
      << srv.process().output();
  srv.process().signal(SIGTERM);
  ASSERT_EQ(srv.process().wait_exit(std::chrono::seconds(10)), 0);
  ASSERT_TRUE(srv.process().wait_for_line("stopped in", std::chrono::seconds(5)));
  std::istringstream in(srv.process().output());
  std::string line;
  int ours = 0;
  while (std::getline(in, line)) {
    if (line.rfind("cutover: listening on", 0) == 0) continue;  // stdout, the §9 contract line
    auto v = boost::json::parse(line);  // throws (fails the test) on a text line
    const auto& o = v.as_object();
    for (const char* k : {"time", "level", "component", "message"})
      EXPECT_TRUE(o.contains(k)) << line;
    auto msg = boost::json::value_to<std::string>(o.at("message"));
    if (msg.rfind("serving ", 0) == 0 || msg == "SIGTERM: shutting down" ||
        msg.rfind("stopped in ", 0) == 0) {
      ++ours;
      EXPECT_EQ(o.at("component").as_string(), "cutover") << line;
    }
  }
  EXPECT_EQ(ours, 3) << srv.process().output();
}

}  // namespace
}  // namespace cutover
