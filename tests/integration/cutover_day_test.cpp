// Cutover day, end to end (DESIGN §4 "Cutover day"): five browsers poll the old app
// (tools/legacy_sim) with its own protocol and stop at different points; the operator
// exports the old table, imports it (twice), and starts Cutover with the old app's profile
// in front of it (--upstream, --auth upstream); the browsers' base URL flips to Cutover,
// keeping their cookies and cursors; new notifications arrive through Redis.
//
// Every browser gets every notification exactly once, in order; what Cutover answers for
// an old cursor is what the old app answered for it, byte for byte; the old app's other
// routes pass through unchanged.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <ctime>
#include <map>
#include <set>

#include "cutover_proc.hpp"
#include "legacy_sim_proc.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::http_post;
using testing::http_reply;
using testing::legacy_sim;
using testing::redis_client;
using testing::redis_server;
using testing::subprocess;
namespace json = boost::json;

// One browser: its session cookie, its cursor, and every event it was given, in order.
struct browser {
  std::string user;
  std::string cookie;
  std::optional<std::string> cursor;  // nullopt: never polled
  std::vector<json::object> events;

  // One poll; returns the answer after taking its events and cursor.
  http_reply poll(int port) {
    auto r = legacy_sim::updates(port, cookie, cursor);
    EXPECT_TRUE(r.status == 200 || r.status == 204) << r.status << " " << r.body;
    if (r.status == 200) {
      auto body = json::parse(r.body);
      for (const auto& e : body.at("events").as_array()) events.push_back(e.as_object());
    }
    if (r.headers.count("x-inbox-cursor")) cursor = r.headers["x-inbox-cursor"];
    return r;
  }
  // Polls until "nothing new" (204); at most `limit` answers.
  void drain(int port, int limit = 50) {
    for (int i = 0; i < limit; ++i)
      if (poll(port).status == 204) return;
    ADD_FAILURE() << user << " never got to the end";
  }
};

std::uint64_t id_of(const json::object& e) {
  std::string s(e.at("eventId").as_string());
  return std::stoull(s.substr(4));  // "evt_<id>"
}

TEST(CutoverDay, BrowsersKeepTheirCursorsAcrossTheSwitch) {
  legacy_sim old({"--channel", "all", "--wait", "1s", "--page-size", "4"});
  // The old app's history, with times of now (the default 7-day retention keeps it).
  for (int i = 0; i < 30; ++i) {
    std::string to = i % 6 == 5 ? "all" : "user:" + std::to_string(i % 5 + 1);
    old.add(to, R"({"n":)" + std::to_string(i) + R"(,"price":1.50})", "task.completed",
            std::time(nullptr) - 3600 + i);
  }
  // Five browsers log in and poll the old app with its protocol; browser k stops after
  // k-1 answers (browser 1 never polled at all).
  std::vector<browser> browsers;
  for (int k = 1; k <= 5; ++k) {
    browser b{std::to_string(k), old.login(std::to_string(k)), std::nullopt, {}};
    for (int page = 0; page < k - 1; ++page) b.poll(old.port());
    browsers.push_back(std::move(b));
  }
  // More history arrives in the old app after some of them stopped.
  old.add("user:5", R"({"late":true})", "task.completed", std::time(nullptr) - 60);
  old.add("all", R"("last one from the old app")", "notice", std::time(nullptr) - 30);

  // ---- the operator: export, import (twice: the second stores nothing), cut over
  testing::temp_dir work;
  std::string input = work.file("export.ndjson");
  old.export_ndjson(input);
  std::string db = work.file("cutover.db");
  for (int run = 0; run < 2; ++run) {
    auto imp = subprocess::spawn(
        {CUTOVER_BIN, "import", "--db", db, "--profile", testing::legacy_sim_profile(), input});
    ASSERT_EQ(imp->wait_exit(60s), 0) << imp->output();
    ASSERT_TRUE(imp->wait_for_line(run == 0 ? "32 rows: 32 stored, 0 already there, 0 rejected"
                                            : "32 rows: 0 stored, 32 already there, 0 rejected",
                                   10s))
        << imp->output();
  }
  redis_server redis;
  cutover_server srv(
      redis,
      {"--legacy-profile", testing::legacy_sim_profile(), "--upstream", old.url(), "--auth",
       "upstream", "--shared-topic", "all", "--poll-timeout", "1s", "--poll-batch", "4"},
      db);

  // ---- the base URL flips; cookies and cursors stay. The first answer for each old
  // cursor is exactly what the old app answers for it.
  for (auto& b : browsers) {
    auto from_old = legacy_sim::updates(old.port(), b.cookie, b.cursor);
    auto from_new = b.poll(srv.port());
    EXPECT_EQ(from_new.status, from_old.status) << b.user;
    EXPECT_EQ(from_new.body, from_old.body) << b.user;
    EXPECT_EQ(from_new.headers["x-inbox-cursor"], from_old.headers["x-inbox-cursor"]) << b.user;
    EXPECT_EQ(from_new.headers["content-type"], from_old.headers["content-type"]) << b.user;
    b.drain(srv.port());
  }

  // ---- new notifications, through Redis, for every user and for everyone
  redis_client pub(redis.port());
  int published = 0;
  for (int i = 0; i < 10; ++i) {
    std::string topic = i % 5 == 4 ? "all" : "user:" + std::to_string(i % 4 + 1);
    pub.xadd(
        "cutover:notifications",
        {{"topic", topic}, {"type", "task.new"}, {"data", R"({"new":)" + std::to_string(i) + "}"}});
    ++published;
  }
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", published));
  for (auto& b : browsers) b.drain(srv.port());

  // ---- every browser got every notification exactly once, in order
  for (const auto& b : browsers) {
    std::set<std::uint64_t> seen;
    for (std::size_t i = 0; i < b.events.size(); ++i) {
      auto id = id_of(b.events[i]);
      EXPECT_TRUE(seen.insert(id).second) << b.user << " got evt_" << id << " twice";
      if (i) {
        EXPECT_LT(id_of(b.events[i - 1]), id) << b.user << ": out of order";
      }
    }
    // What the old app had for this user, as it renders it, then the new ones.
    browser reference{b.user, old.login(b.user), std::nullopt, {}};
    reference.drain(old.port());
    std::size_t imported = reference.events.size();
    ASSERT_GE(b.events.size(), imported) << b.user;
    for (std::size_t i = 0; i < imported; ++i)
      EXPECT_EQ(json::serialize(b.events[i]), json::serialize(reference.events[i]))
          << b.user << " event " << i;
    int expected_new = 0;
    for (int i = 0; i < 10; ++i)
      if (i % 5 == 4 || std::to_string(i % 4 + 1) == b.user) ++expected_new;
    ASSERT_EQ(b.events.size(), imported + static_cast<std::size_t>(expected_new)) << b.user;
    for (std::size_t i = imported; i < b.events.size(); ++i) {
      const auto& e = b.events[i];
      EXPECT_EQ(e.at("kind").as_string(), "task.new");
      EXPECT_EQ(e.at("via").as_string(), "inbox");
      EXPECT_TRUE(e.contains("new")) << "payload merged, as the old app did";
      EXPECT_GT(id_of(e), id_of(reference.events.back())) << "new ids compare greater";
    }
  }

  // ---- every other transport sees the imported entries with their stream ids
  {
    testing::raw_ws ws(srv.port(), "/v1/ws?since=0", 0, {{"Cookie", browsers[0].cookie}});
    ASSERT_EQ(ws.handshake_status(), 101) << ws.handshake_body();
    ASSERT_TRUE(ws.next_text());  // hello
    auto first = ws.next_text();
    ASSERT_TRUE(first);
    auto frame = json::parse(*first).as_object();
    std::uint64_t old_id = id_of(browsers[0].events.front());
    EXPECT_EQ(frame.at("id").as_string(), "0-" + std::to_string(old_id)) << *first;
    EXPECT_EQ(frame.at("legacyId").to_number<std::uint64_t>(), old_id);
    std::time_t at = browsers[0].events.front().at("at").to_number<std::int64_t>();
    char iso[32];
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S.000Z", std::gmtime(&at));
    EXPECT_EQ(frame.at("createdAt").as_string(), iso) << "the old app's time, not 1970";
  }

  // ---- the old app's other routes pass through unchanged
  auto login = http_post(srv.port(), "/auth/login?username=77", "");
  EXPECT_EQ(login.status, 200);
  EXPECT_EQ(login.body, R"({"user":{"id":"77","name":"user 77"}})");
  std::string cookie77 =
      login.headers["set-cookie"].substr(0, login.headers["set-cookie"].find(';'));
  EXPECT_EQ(cookie77.rfind("LSESSION=", 0), 0u);
  auto me_direct = http_get(old.port(), "/auth/whoami", {{"Cookie", cookie77}});
  auto me_through = http_get(srv.port(), "/auth/whoami", {{"Cookie", cookie77}});
  EXPECT_EQ(me_through.status, 200);
  EXPECT_EQ(me_through.body, me_direct.body);
  auto home_direct = http_get(old.port(), "/");
  auto home_through = http_get(srv.port(), "/");
  EXPECT_EQ(home_through.status, 200);
  EXPECT_EQ(home_through.body, home_direct.body);
  EXPECT_EQ(home_through.headers["content-type"], home_direct.headers["content-type"]);
  auto echo =
      json::parse(http_post(srv.port(), "/api/echo?x=1", "body", {{"Cookie", cookie77}}).body);
  EXPECT_EQ(echo.at("target").as_string(), "/api/echo?x=1");
  EXPECT_EQ(echo.at("body").as_string(), "body");
  // A session made through Cutover is a session of the old app: it polls Cutover.
  browser newcomer{"77", cookie77, std::nullopt, {}};
  newcomer.drain(srv.port());
  EXPECT_FALSE(newcomer.events.empty()) << "the broadcasts, old and new";
}

}  // namespace
}  // namespace cutover
