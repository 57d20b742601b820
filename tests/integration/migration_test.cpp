// Migration controls end to end (issue 5): pass-through to the legacy app, upstream and
// header auth, the rollout cohort and its SIGHUP reload, HTTP publish. The legacy app is
// the real tools/legacy_sim binary; Redis and Cutover are real too.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <future>
#include <set>

#include "cutover_proc.hpp"
#include "legacy_adapter/rollout.hpp"
#include "legacy_sim_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::http_post;
using testing::json_field;
using testing::redis_client;
using testing::redis_server;
using testing::subprocess;
namespace json = boost::json;

class Migration : public ::testing::Test {
 protected:
  redis_server redis_;
  testing::legacy_sim legacy_;
  // The old app's own updates endpoint, answered by Cutover through its profile.
  std::vector<std::string> as_legacy_sim(std::vector<std::string> flags) const {
    flags.insert(flags.end(), {"--legacy-profile", testing::legacy_sim_profile()});
    return flags;
  }
};

TEST_F(Migration, PassThroughForwardsRequestsAndAnswersUnchanged) {
  cutover_server srv(redis_, {"--auth", "insecure-query", "--upstream", legacy_.url()});
  auto r = http_post(srv.port(), "/api/echo?x=1&y=a%20b", R"({"hello":"world"})",
                     {{"Cookie", "sid=abc; theme=dark"},
                      {"X-Custom", "kept"},
                      {"Connection", "keep-alive, X-Drop"},
                      {"X-Drop", "hop"},
                      {"X-Forwarded-For", "10.9.8.7"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto echo = json::parse(r.body).as_object();
  EXPECT_EQ(echo["method"].as_string(), "POST");
  EXPECT_EQ(echo["target"].as_string(), "/api/echo?x=1&y=a%20b");
  EXPECT_EQ(echo["body"].as_string(), R"({"hello":"world"})");
  auto& h = echo["headers"].as_object();
  EXPECT_EQ(h["cookie"].as_string(), "sid=abc; theme=dark");
  EXPECT_EQ(h["x-custom"].as_string(), "kept");
  EXPECT_FALSE(h.contains("x-drop")) << "named in Connection: hop-by-hop";
  // The client is not a --trusted-peer: its X-Forwarded-For is replaced (DESIGN §7).
  EXPECT_EQ(h["x-forwarded-for"].as_string(), "127.0.0.1");
  EXPECT_EQ(h["x-forwarded-proto"].as_string(), "http");
  EXPECT_EQ(h["x-forwarded-host"].as_string(), "127.0.0.1:" + std::to_string(srv.port()));

  auto teapot = http_get(srv.port(), "/api/status/418");
  EXPECT_EQ(teapot.status, 418);
  EXPECT_EQ(teapot.body, R"({"status":418})");
  auto cookie = http_get(srv.port(), "/api/set-cookie?name=pref&value=v1");
  EXPECT_EQ(cookie.headers["set-cookie"], "pref=v1; Path=/");
  auto missing = http_get(srv.port(), "/no/such/route");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(
      missing.body,
      R"({"ok":false,"error":{"code":"NOT_FOUND","detail":"no route for GET /no/such/route"}})")
      << "the legacy app's own 404, unchanged";
  // Cutover's own endpoints are not forwarded.
  EXPECT_EQ(http_get(srv.port(), "/healthz").body, R"({"status":"ok"})");
}

TEST_F(Migration, UpstreamDownIs502AndSlowIs504) {
  int closed = testing::free_port();
  cutover_server down(redis_, {"--auth", "insecure-query", "--upstream",
                               "http://127.0.0.1:" + std::to_string(closed)});
  auto r = http_get(down.port(), "/api/echo");
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(json_field(r.body, "error"), "bad_gateway");
  cutover_server slow(redis_, {"--auth", "insecure-query", "--upstream", legacy_.url(),
                               "--upstream-timeout", "300ms"});
  auto t = http_get(slow.port(), "/api/slow?ms=3000");
  EXPECT_EQ(t.status, 504);
  EXPECT_EQ(json_field(t.body, "error"), "gateway_timeout");
  EXPECT_EQ(http_get(slow.port(), "/api/status/200").status, 200);  // the pool recovered
  // Operators see each outcome.
  EXPECT_EQ(down.metric(R"(cutover_upstream_requests_total{outcome="unreachable"})"), 1);
  EXPECT_EQ(slow.metric(R"(cutover_upstream_requests_total{outcome="timeout"})"), 1);
  EXPECT_EQ(slow.metric(R"(cutover_upstream_requests_total{outcome="answered"})"), 1);
}

TEST_F(Migration, UpstreamAuthIsCachedAndCoalesced) {
  cutover_server srv(
      redis_, as_legacy_sim({"--auth", "upstream", "--auth-url", legacy_.url() + "/auth/whoami",
                             "--poll-timeout", "200ms"}));
  auto sid = legacy_.login("42");
  int before = legacy_.me_requests();
  // Ten concurrent polls with cold credentials, then ten more: one who-am-I call.
  std::vector<std::future<testing::http_reply>> polls;
  for (int i = 0; i < 10; ++i)
    polls.push_back(std::async(std::launch::async, [&] {
      return testing::legacy_sim::updates(srv.port(), sid, "evt_0");
    }));
  for (auto& p : polls) EXPECT_EQ(p.get().status, 204);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(
        testing::legacy_sim::updates(srv.port(), "theme=" + std::to_string(i) + "; " + sid, "evt_0")
            .status,
        204)
        << "other cookies do not make new credentials: only the session cookie counts";
  EXPECT_EQ(legacy_.me_requests() - before, 1);
  EXPECT_EQ(srv.metric(R"(cutover_auth_upstream_lookups_total{result="asked"})"), 1);
  // Every other request is counted once: coalesced with the one in flight, or a cache hit
  // once it was answered (issue 12: coalesced lookups were not counted).
  EXPECT_EQ(
      srv.metric(R"(cutover_auth_upstream_lookups_total{result="coalesced"})").value_or(0) +
          srv.metric(R"(cutover_auth_upstream_lookups_total{result="cache_hit"})").value_or(0),
      19);
  // The identity is the one the legacy app returned ({"user":{"id":"42"}}): user:42's.
  redis_client pub(redis_.port());
  pub.xadd("cutover:notifications", {{"topic", "user:42"}, {"data", R"("mine")"}});
  pub.xadd("cutover:notifications", {{"topic", "user:7"}, {"data", R"("theirs")"}});
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 2));
  auto r = testing::legacy_sim::updates(srv.port(), sid, "evt_0");
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = json::parse(r.body).at("events").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(json::serialize(list[0].at("value")), R"("mine")");
}

TEST_F(Migration, UpstreamAuthFindsWhoAmIThroughTheProfile) {
  // No --auth-url: the profile's identity.path on --upstream.
  cutover_server srv(redis_, as_legacy_sim({"--auth", "upstream", "--upstream", legacy_.url(),
                                            "--poll-timeout", "100ms"}));
  int before = legacy_.me_requests();
  EXPECT_EQ(testing::legacy_sim::updates(srv.port(), legacy_.login("5"), "evt_0").status, 204);
  EXPECT_EQ(legacy_.me_requests() - before, 1);
  // Without the app's session cookie there is nothing to ask about.
  auto other = testing::legacy_sim::updates(srv.port(), "sid=abc; theme=dark", "evt_0");
  EXPECT_EQ(other.status, 401);
  EXPECT_EQ(other.body, R"({"ok":false,"error":{"code":"NO_SESSION","detail":"log in first"}})");
  EXPECT_EQ(legacy_.me_requests() - before, 1);
  // Without a way to find who-am-I, serve refuses to start.
  auto p = subprocess::spawn(
      {CUTOVER_BIN, "serve", "--auth", "upstream", "--db", "/nonexistent/never.db"});
  EXPECT_EQ(p->wait_exit(10s), 2);
  EXPECT_NE(p->output().find("--auth upstream needs --auth-url URL"), std::string::npos)
      << p->output();
}

TEST_F(Migration, UpstreamAuthEntriesExpire) {
  cutover_server srv(
      redis_, as_legacy_sim({"--auth", "upstream", "--auth-url", legacy_.url() + "/auth/whoami",
                             "--auth-cache-ttl", "300ms", "--poll-timeout", "500ms"}));
  auto sid = legacy_.login("9");
  int before = legacy_.me_requests();
  // A poll that waits out its 500 ms timeout lets the 300 ms cache entry expire.
  auto first = testing::legacy_sim::updates(srv.port(), sid, std::nullopt);
  EXPECT_EQ(first.status, 204);
  EXPECT_EQ(legacy_.me_requests() - before, 1);
  EXPECT_EQ(testing::legacy_sim::updates(srv.port(), sid, "evt_0").status, 204);
  EXPECT_EQ(legacy_.me_requests() - before, 2);
}

TEST_F(Migration, UpstreamAuthRefusalsAndOutages) {
  cutover_server srv(
      redis_, as_legacy_sim({"--auth", "upstream", "--auth-url", legacy_.url() + "/auth/whoami"}));
  const std::string no_session =
      R"({"ok":false,"error":{"code":"NO_SESSION","detail":"log in first"}})";
  auto anonymous = testing::legacy_sim::updates(srv.port(), "", std::nullopt);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.body, no_session) << "the old app's own 401";
  auto refused = testing::legacy_sim::updates(srv.port(), "LSESSION=forged", std::nullopt);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body, no_session);
  int closed = testing::free_port();
  cutover_server orphan(
      redis_, as_legacy_sim({"--auth", "upstream", "--auth-url",
                             "http://127.0.0.1:" + std::to_string(closed) + "/auth/whoami"}));
  auto down = testing::legacy_sim::updates(orphan.port(), "LSESSION=x", std::nullopt);
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.body, R"({"ok":false,"error":{"code":"BUSY","detail":"try again later"}})");
  EXPECT_EQ(down.headers["retry-after"], "2");
  // The WebSocket handshake is refused the same way, before the upgrade, in Cutover's terms.
  testing::raw_ws ws(srv.port(), "/v1/ws");
  EXPECT_EQ(ws.handshake_status(), 401);
  EXPECT_EQ(json_field(ws.handshake_body(), "error"), "unauthorized");
}

TEST_F(Migration, HeaderAuthBelievesOnlyTrustedPeers) {
  cutover_server trusted(redis_, {"--auth", "header", "--auth-header", "X-User-Id",
                                  "--trusted-peer", "127.0.0.1/32", "--poll-timeout", "200ms"});
  EXPECT_EQ(
      http_get(trusted.port(), "/api/notifications/poll?since=0", {{"X-User-Id", "5"}}).status,
      200);
  EXPECT_EQ(http_get(trusted.port(), "/api/notifications/poll?since=0").status, 401);
  cutover_server untrusted(redis_, {"--auth", "header", "--auth-header", "X-User-Id",
                                    "--trusted-peer", "10.0.0.0/8", "--trusted-peer", "fd00::/8"});
  auto r = http_get(untrusted.port(), "/api/notifications/poll?since=0", {{"X-User-Id", "5"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(json_field(r.body, "message").find("trusted"), std::string::npos);
}

TEST_F(Migration, CohortIsAStableHashWithAllowAndDenyLists) {
  auto has_hint = [](cutover_server& s, const std::string& user) {
    auto r = http_get(s.port(), "/api/notifications/poll?since=0&user=" + user);
    return r.headers.count("x-cutover-upgrade") ? r.headers["x-cutover-upgrade"] : std::string();
  };
  cutover_server none(redis_, {"--auth", "insecure-query", "--ws-rollout-percent", "0",
                               "--ws-rollout-allow", "vip", "--poll-timeout", "100ms"});
  cutover_server all(redis_, {"--auth", "insecure-query", "--ws-rollout-percent", "100",
                              "--ws-rollout-deny", "legacy", "--poll-timeout", "100ms"});
  cutover_server half(redis_, {"--auth", "insecure-query", "--ws-rollout-percent", "50",
                               "--poll-timeout", "100ms"});
  EXPECT_EQ(has_hint(none, "u1"), "");
  EXPECT_EQ(has_hint(none, "vip"), "/v1/ws");
  EXPECT_EQ(has_hint(all, "u1"), "/v1/ws");
  EXPECT_EQ(has_hint(all, "legacy"), "");
  // The cohort at 50 %, pinned (FNV-1a 64 buckets, tests/legacy_adapter/rollout_test.cpp): the
  // running server must give every instance's answer, not merely one consistent with its own hash.
  const std::set<int> cohort = {2, 3, 4, 5, 7, 9, 10, 11, 14, 15, 17, 18};
  for (int i = 0; i < 20; ++i) {
    std::string u = "user" + std::to_string(i);
    EXPECT_EQ(!has_hint(half, u).empty(), cohort.count(i) == 1) << u;
  }
}

TEST_F(Migration, SighupReloadsTheCohortWithoutDroppingConnections) {
  testing::temp_dir dir;
  auto cfg = dir.file("cutover.toml");
  std::ofstream(cfg) << "[serve]\nws-rollout-percent = 0\n";
  auto db = dir.file("c.db");
  auto proc = subprocess::spawn({CUTOVER_BIN, "--config", cfg, "serve", "--listen", "127.0.0.1:0",
                                 "--db", db, "--redis", redis_.url(), "--auth", "insecure-query",
                                 "--poll-timeout", "100ms"});
  auto line = proc->wait_for_line("listening on", 20s);
  ASSERT_TRUE(line);
  int port = std::stoi(line->substr(line->rfind(':') + 1));
  testing::raw_ws ws(port, "/v1/ws?user=u1");
  ASSERT_TRUE(ws.next_text());
  EXPECT_EQ(
      http_get(port, "/api/notifications/poll?since=0&user=u1").headers.count("x-cutover-upgrade"),
      0u);
  std::ofstream(cfg) << "[serve]\nws-rollout-percent = 100\nws-rollout-deny = [\"u2\"]\n";
  auto mark = proc->line_count();
  proc->signal(SIGHUP);
  ASSERT_TRUE(proc->wait_for_line("SIGHUP: rollout now 100%", 10s, mark));
  EXPECT_EQ(http_get(port, "/api/notifications/poll?since=0&user=u1").headers["x-cutover-upgrade"],
            "/v1/ws");
  EXPECT_EQ(
      http_get(port, "/api/notifications/poll?since=0&user=u2").headers.count("x-cutover-upgrade"),
      0u);
  // The WebSocket opened before the reload still delivers.
  redis_client pub(redis_.port());
  auto id = pub.xadd("cutover:notifications", {{"topic", "user:u1"}, {"data", "1"}});
  auto f = ws.next_text();
  ASSERT_TRUE(f);
  EXPECT_EQ(json_field(*f, "id"), id);
}

TEST_F(Migration, HttpPublishNeedsTheAdminTokenAndReachesPollers) {
  cutover_server srv(
      redis_, {"--auth", "insecure-query", "--admin-token", "s3cret", "--poll-timeout", "5s"});
  std::string body = R"({"topic":"user:3","type":"task.done","data":{"n":1.50},"key":"k-1"})";
  EXPECT_EQ(http_post(srv.port(), "/v1/publish", body).status, 401);
  EXPECT_EQ(http_post(srv.port(), "/v1/publish", body, {{"Authorization", "Bearer wrong!"}}).status,
            401);
  auto bad = http_post(srv.port(), "/v1/publish", R"({"topic":"user:3"})",
                       {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json_field(bad.body, "message"), "missing field 'data'");
  auto waiting = std::async(std::launch::async,
                            [&] { return http_get(srv.port(), "/api/notifications/poll?user=3"); });
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_waiting_polls", 1));
  auto ok = http_post(srv.port(), "/v1/publish", body, {{"Authorization", "Bearer s3cret"}});
  ASSERT_EQ(ok.status, 202) << ok.body;
  auto id = json_field(ok.body, "id");
  auto raw = waiting.get().body;
  EXPECT_NE(raw.find(R"("payload":{"n":1.50})"), std::string::npos)
      << raw;  // the publisher's spelling survives
  auto got = json::parse(raw).as_object();
  auto& n = got["notifications"].as_array().at(0).as_object();
  auto dash = id.find('-');
  EXPECT_EQ(n["id"].to_number<std::uint64_t>(),
            std::stoull(id.substr(0, dash)) * 1024 + std::stoull(id.substr(dash + 1)));
  // The same key again is stored once.
  EXPECT_EQ(http_post(srv.port(), "/v1/publish", body, {{"Authorization", "Bearer s3cret"}}).status,
            202);
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_duplicates_total", 1));
  // Redis down: 503, never a silent 202.
  redis_.kill();
  auto down = http_post(srv.port(), "/v1/publish", body, {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.headers["retry-after"], "1");
}

TEST_F(Migration, MetricsCountUsersPerTransport) {
  cutover_server srv(redis_, {"--auth", "insecure-query", "--poll-timeout", "100ms"});
  http_get(srv.port(), "/api/notifications/poll?since=0&user=a");
  http_get(srv.port(), "/api/notifications/poll?since=0&user=b");
  testing::raw_ws wb(srv.port(), "/v1/ws?user=b");
  testing::raw_ws wc(srv.port(), "/v1/ws?user=c");
  ASSERT_TRUE(wb.next_text());
  ASSERT_TRUE(wc.next_text());
  EXPECT_EQ(srv.metric("cutover_users_last_hour{transport=\"longpoll\"}"), 2);
  EXPECT_EQ(srv.metric("cutover_users_last_hour{transport=\"websocket\"}"), 2);
  EXPECT_EQ(srv.metric("cutover_users_last_hour{transport=\"both\"}"), 1);
  EXPECT_EQ(srv.metric("cutover_connections{transport=\"websocket\"}"), 2);
}

TEST_F(Migration, RepublishPutsNotificationsBackWithReplayOf) {
  cutover_server srv(redis_, {"--auth", "insecure-query"});
  redis_client pub(redis_.port());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(pub.xadd("cutover:notifications", {{"topic", "user:1"},
                                                     {"type", "t"},
                                                     {"data", std::to_string(i)},
                                                     {"key", "k" + std::to_string(i)}}));
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 3));
  testing::raw_ws ws(srv.port(), "/v1/ws?user=1");
  ASSERT_TRUE(ws.next_text());
  auto xlen = [&] { return pub.command({"XLEN", "cutover:notifications"})->integer; };

  auto dry = subprocess::spawn(
      {CUTOVER_BIN, "replay", "--db", srv.db(), "--user", "1", "--republish", "--dry-run"});
  ASSERT_EQ(dry->wait_exit(20s), 0);
  EXPECT_NE(dry->output().find("dry run: would republish 3 notifications"), std::string::npos)
      << dry->output();
  EXPECT_EQ(xlen(), 3);

  auto run = subprocess::spawn({CUTOVER_BIN, "replay", "--db", srv.db(), "--user", "1",
                                "--republish", "--redis", redis_.url(), "--rate", "1000/s"});
  ASSERT_EQ(run->wait_exit(20s), 0) << run->output();
  EXPECT_EQ(xlen(), 6);
  auto entries = pub.xrange("cutover:notifications");
  ASSERT_EQ(entries.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    const auto& e = entries[3 + i];
    EXPECT_EQ(e.field("replayOf"), ids[i]);
    EXPECT_EQ(e.field("data"), std::to_string(i));
    // A replay is not deduplicated against its original.
    EXPECT_EQ(std::count(e.fields.begin(), e.fields.end(), "key"), 0);
  }
  // Connected clients get them again, as new notifications.
  for (int i = 0; i < 3; ++i) {
    auto t = ws.next_text();
    ASSERT_TRUE(t);
    EXPECT_EQ(json_field(*t, "data"), std::to_string(i));
    EXPECT_NE(json_field(*t, "id"), ids[i]);
  }
}

}  // namespace
}  // namespace cutover
