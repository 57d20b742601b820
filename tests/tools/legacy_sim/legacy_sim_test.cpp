// legacy_sim through its real binary: the old inbox app with its own database, login,
// who-am-I, update poll and ordinary routes, as the parity, cutover-day and pass-through
// tests use it. Nothing here touches Cutover's store or libraries: the app's events go in
// through its own admin route, and its database is read with plain SQLite.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "subprocess.hpp"

namespace cutover::legacy_sim {
namespace {

using cutover::testing::subprocess;
using cutover::testing::temp_dir;
using namespace std::chrono_literals;
namespace json = boost::json;

constexpr std::int64_t kAt = 1'700'000'000;  // 2023-11-14T22:13:20Z

std::string error_body(const std::string& code, const std::string& detail) {
  return R"({"ok":false,"error":{"code":")" + code + R"(","detail":")" + detail + R"("}})";
}

// A running legacy_sim on a free port.
struct sim {
  std::unique_ptr<subprocess> proc;
  int port = 0;

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(40s);  // polls are held by design; longer than any wait used here
    return c;
  }
};

class LegacySim : public ::testing::Test {
 protected:
  sim start(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {LEGACY_SIM_BIN, "--listen", "127.0.0.1:0", "--db", db_});
    sim s;
    s.proc = subprocess::spawn(flags);
    auto line = s.proc->wait_for_line("legacy_sim: listening on http://127.0.0.1:", 20s);
    if (!line) {
      ADD_FAILURE() << "legacy_sim did not start:\n" << s.proc->output();
      return s;
    }
    s.port = std::stoi(line->substr(line->rfind(':') + 1));
    return s;
  }

  // Adds one event through the app's own admin route; returns its cursor ("evt_N").
  static std::string add(httplib::Client& c, const std::string& to, const std::string& body,
                         const std::string& kind = "task.completed", std::int64_t at = kAt) {
    auto r = c.Post("/admin/events?to=" + to + "&kind=" + kind + "&at=" + std::to_string(at), body,
                    "application/json");
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 201) << r->body;
    return std::string(json::parse(r->body).as_object()["eventId"].as_string());
  }

  // Logs `user` in; returns the Cookie header value to send back.
  static std::string login(httplib::Client& c, const std::string& user) {
    auto r = c.Post("/auth/login", "username=" + user, "application/x-www-form-urlencoded");
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"user":{"id":")" + user + R"(","name":"user )" + user + R"("}})");
    std::string set = r->get_header_value("Set-Cookie");
    EXPECT_TRUE(set.starts_with("LSESSION=")) << set;
    EXPECT_TRUE(set.ends_with("; Path=/; HttpOnly")) << set;
    return set.substr(0, set.find(';'));
  }

  static httplib::Result updates(httplib::Client& c, const std::string& cookie,
                                 std::optional<std::string> after) {
    httplib::Params params;
    if (after) params.emplace("after", *after);
    httplib::Headers headers;
    if (!cookie.empty()) headers.emplace("Cookie", cookie);
    return c.Get("/rest/inbox/updates", params, headers);
  }

  static json::object stats(httplib::Client& c) {
    auto r = c.Get("/stats");
    EXPECT_TRUE(r && r->status == 200);
    return r ? json::parse(r->body).as_object() : json::object{};
  }

  // Until `n` polls are parked in their re-check loop (found nothing on their first
  // read). Synchronises on /stats answers; returns false after 10 s.
  static bool wait_until_parked(httplib::Client& c, int n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline)
      if (stats(c)["waiting_polls"].to_number<int>() >= n) return true;
    return false;
  }

  temp_dir dir_;
  std::string db_ = dir_.file("inbox.db");
};

TEST_F(LegacySim, LoginAndUpdatesInTheAppsOwnFormat) {
  auto s = start({"--channel", "all"});
  auto c = s.client();
  EXPECT_EQ(add(c, "user:42", R"({"task":1,"ok":true})"), "evt_1");
  EXPECT_EQ(add(c, "all", R"("maintenance at 5")", "notice", kAt + 1), "evt_2");
  EXPECT_EQ(add(c, "user:7", R"({"task":2})"), "evt_3");
  EXPECT_EQ(add(c, "user:42", R"({"n":1.5,"s":"\u00e9"})", "x\"y", kAt + 2), "evt_4");
  std::string cookie = login(c, "42");

  // No cursor: everything still in the inbox.
  auto all = updates(c, cookie, std::nullopt);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->status, 200);
  EXPECT_EQ(all->get_header_value("Content-Type"), "application/json; charset=utf-8");
  EXPECT_EQ(all->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(all->get_header_value("X-Inbox-Cursor"), "evt_4");
  EXPECT_EQ(
      all->body,
      R"({"v":2,"events":[)"
      R"({"eventId":"evt_1","kind":"task.completed","at":1700000000,"task":1,"ok":true,"via":"inbox"},)"
      R"({"eventId":"evt_2","kind":"notice","at":1700000001,"value":"maintenance at 5","via":"inbox"},)"
      R"({"eventId":"evt_4","kind":"x\"y","at":1700000002,"n":1.5E0,"s":"é","via":"inbox"}]})");

  auto rest = updates(c, cookie, "evt_2");
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->status, 200);
  EXPECT_EQ(rest->get_header_value("X-Inbox-Cursor"), "evt_4");
  EXPECT_EQ(json::parse(rest->body).as_object()["events"].as_array().size(), 1u);
}

TEST_F(LegacySim, EventKeysWinOverThePayloadsOwn) {
  auto s = start({});
  auto c = s.client();
  add(c, "user:1", R"({"eventId":"forged","kind":"k","at":1,"via":"x","keep":[1,{"a":null}]})");
  add(c, "user:1", "[1,2]");
  auto r = updates(c, login(c, "1"), "evt_0");
  ASSERT_TRUE(r);
  EXPECT_EQ(
      r->body,
      R"({"v":2,"events":[{"eventId":"evt_1","kind":"task.completed","at":1700000000,)"
      R"("keep":[1,{"a":null}],"via":"inbox"},)"
      R"({"eventId":"evt_2","kind":"task.completed","at":1700000000,"value":[1,2],"via":"inbox"}]})");
}

TEST_F(LegacySim, WhoAmIRefusesWithoutASessionAndAfterLogout) {
  auto s = start({});
  auto c = s.client();
  auto anon = c.Get("/auth/whoami");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  EXPECT_EQ(anon->body, error_body("NO_SESSION", "log in first"));
  auto forged = c.Get("/auth/whoami", {{"Cookie", "LSESSION=0123456789abcdef0123456789abcdef"}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
  // Cutover's own cookie name means nothing here.
  auto other = c.Get("/auth/whoami", {{"Cookie", "sid=" + login(c, "5").substr(9)}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 401);

  std::string cookie = login(c, "42");
  auto me = c.Get("/auth/whoami", {{"Cookie", "theme=dark; " + cookie}});
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(me->body, R"({"user":{"id":"42","name":"user 42"}})");
  EXPECT_EQ(stats(c)["me_requests"].to_number<int>(), 4);

  auto out = c.Post("/auth/logout", {{"Cookie", cookie}}, "", "text/plain");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 204);
  EXPECT_EQ(out->get_header_value("Set-Cookie"), "LSESSION=; Path=/; Max-Age=0; HttpOnly");
  auto after = c.Get("/auth/whoami", {{"Cookie", cookie}});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
  auto no_name = c.Post("/auth/login", "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(no_name);
  EXPECT_EQ(no_name->status, 400);
}

TEST_F(LegacySim, MalformedCursorIs400) {
  auto s = start({});
  auto c = s.client();
  std::string cookie = login(c, "42");
  for (std::string bad : {"", "1", "evt_", "evt_-1", "evt_1.5", "EVT_1", "evt_ 1", "evt_1x",
                          "evt_99999999999999999999"}) {
    auto r = updates(c, cookie, bad);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(r->body, error_body("BAD_CURSOR", "after must be evt_ followed by digits")) << bad;
  }
}

TEST_F(LegacySim, UpdatesWithoutIdentityIs401) {
  auto s = start({});
  auto c = s.client();
  add(c, "user:42", "1");
  for (std::optional<std::string> after :
       {std::optional<std::string>("evt_0"), std::optional<std::string>("junk"),
        std::optional<std::string>()}) {
    auto r = updates(c, "", after);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->body, error_body("NO_SESSION", "log in first"));
  }
  // ?user= is identity only with --allow-user-param.
  auto q = c.Get("/rest/inbox/updates?user=42&after=evt_0");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, 401);
  s.proc.reset();
  auto open = start({"--allow-user-param"});
  auto oc = open.client();
  auto r = oc.Get("/rest/inbox/updates?user=42&after=evt_0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Inbox-Cursor"), "evt_1");
}

TEST_F(LegacySim, NothingNewIs204WithTheCursorToComeBackWith) {
  auto s = start({"--wait", "1s"});
  auto c = s.client();
  add(c, "user:7", "1");  // someone else's
  std::string cookie = login(c, "42");
  for (std::optional<std::string> after :
       {std::optional<std::string>("evt_1"), std::optional<std::string>("evt_900"),
        std::optional<std::string>()}) {
    auto started = std::chrono::steady_clock::now();
    auto r = updates(c, cookie, after);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204);
    EXPECT_EQ(r->body, "");
    EXPECT_EQ(r->get_header_value("X-Inbox-Cursor"), after.value_or("evt_0"));
    EXPECT_GE(std::chrono::steady_clock::now() - started, 900ms) << "it waited out --wait";
  }
}

TEST_F(LegacySim, ArrivalIsPickedUpAtTheNextRecheck) {
  auto s = start({"--wait", "20s"});
  auto c = s.client();
  std::string cookie = login(c, "42");
  auto pending = std::async(std::launch::async, [&s, cookie] {
    auto pc = s.client();
    return updates(pc, cookie, "evt_0");
  });
  ASSERT_TRUE(wait_until_parked(c, 1));
  add(c, "user:7", "0");  // not for this user: the poll keeps waiting
  add(c, "user:42", R"({"late":true})");
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto r = pending.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Inbox-Cursor"), "evt_2");
  EXPECT_EQ(json::parse(r->body).as_object()["events"].as_array().size(), 1u);
  // One request, held across the non-matching arrival: exactly one poll, not a re-poll.
  EXPECT_EQ(stats(c)["poll_requests"].to_number<int>(), 1);
}

TEST_F(LegacySim, PagesOfPageSizeFollowingTheHeader) {
  auto s = start({"--page-size", "2", "--wait", "200ms"});
  auto c = s.client();
  for (int i = 0; i < 5; ++i) add(c, "user:9", std::to_string(i));
  std::string cookie = login(c, "9");
  std::optional<std::string> after;
  std::vector<std::string> seen;
  while (true) {
    auto r = updates(c, cookie, after);
    ASSERT_TRUE(r);
    after = r->get_header_value("X-Inbox-Cursor");
    if (r->status == 204) break;
    ASSERT_EQ(r->status, 200);
    auto page = json::parse(r->body);
    for (const auto& e : page.as_object()["events"].as_array())
      seen.emplace_back(e.as_object().at("eventId").as_string());
    ASSERT_LE(seen.size(), 5u);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"evt_1", "evt_2", "evt_3", "evt_4", "evt_5"}));
  EXPECT_EQ(after, "evt_5");
}

TEST_F(LegacySim, TheDatabaseIsItsOwnAndOutlivesARestart) {
  {
    auto s = start({});
    auto c = s.client();
    add(c, "user:1", "1");
    add(c, "all", "2");
  }
  auto s = start({});
  auto c = s.client();
  EXPECT_EQ(add(c, "user:1", "3"), "evt_3") << "ids go on where they were";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto rows = [&](const char* sql) {
    std::vector<std::string> out;
    sqlite3_exec(
        db, sql,
        [](void* p, int n, char** v, char**) {
          std::string row;
          for (int i = 0; i < n; ++i) row += (i ? "|" : "") + std::string(v[i] ? v[i] : "NULL");
          static_cast<std::vector<std::string>*>(p)->push_back(row);
          return 0;
        },
        &out, nullptr);
    return out;
  };
  EXPECT_EQ(rows("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
            (std::vector<std::string>{"inbox_events", "sqlite_sequence"}));
  EXPECT_EQ(rows("SELECT event_id, user_id, channel, kind, body, created_at FROM inbox_events"),
            (std::vector<std::string>{"1|1|NULL|task.completed|1|1700000000",
                                      "2|NULL|all|task.completed|2|1700000000",
                                      "3|1|NULL|task.completed|3|1700000000"}));
  sqlite3_close(db);
}

TEST_F(LegacySim, AdminEventsRefusesBadInput) {
  auto s = start({});
  auto c = s.client();
  auto r1 = c.Post("/admin/events?to=user:1", "{bad", "application/json");
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 400);
  EXPECT_EQ(r1->body, error_body("BAD_BODY", "the body must be one JSON value"));
  auto r2 = c.Post("/admin/events", "1", "application/json");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 400);
  auto r3 = c.Post("/admin/events?to=user:", "1", "application/json");
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->status, 400);
  auto r4 = c.Post("/admin/events?to=all&at=yesterday", "1", "application/json");
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->status, 400);
}

TEST_F(LegacySim, OrdinaryRoutesForPassThrough) {
  auto s = start({});
  auto c = s.client();

  auto home = c.Get("/");
  ASSERT_TRUE(home);
  EXPECT_EQ(home->status, 200);
  EXPECT_NE(home->get_header_value("Content-Type").find("text/html"), std::string::npos);

  auto echo = c.Post("/api/echo?x=1&x=2&y=%20z", {{"X-Test", "yes"}, {"Cookie", "a=1; b=two"}},
                     "hello body", "text/plain");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->status, 200);
  auto e = json::parse(echo->body).as_object();
  EXPECT_EQ(e["method"], "POST");
  EXPECT_EQ(e["path"], "/api/echo");
  EXPECT_EQ(e["target"], "/api/echo?x=1&x=2&y=%20z");
  EXPECT_EQ(e["query"].as_object()["x"], (json::array{"1", "2"}));
  EXPECT_EQ(e["query"].as_object()["y"], " z");
  EXPECT_EQ(e["headers"].as_object()["x-test"], "yes");
  EXPECT_EQ(e["headers"].as_object()["cookie"], "a=1; b=two");
  EXPECT_EQ(e["cookies"].as_object()["b"], "two");
  EXPECT_EQ(e["body"], "hello body");

  auto get_echo = c.Get("/api/echo");
  ASSERT_TRUE(get_echo);
  EXPECT_EQ(json::parse(get_echo->body).as_object()["method"], "GET");

  auto cookie = c.Get("/api/set-cookie?name=theme&value=dark");
  ASSERT_TRUE(cookie);
  EXPECT_EQ(cookie->status, 200);
  EXPECT_EQ(cookie->get_header_value("Set-Cookie"), "theme=dark; Path=/");
  auto bad_cookie = c.Get("/api/set-cookie?name=a;b&value=1");
  ASSERT_TRUE(bad_cookie);
  EXPECT_EQ(bad_cookie->status, 400);

  auto teapot = c.Get("/api/status/418");
  ASSERT_TRUE(teapot);
  EXPECT_EQ(teapot->status, 418);
  EXPECT_EQ(teapot->body, R"({"status":418})");
  auto not_found = c.Get("/api/status/404");
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->status, 404);
  EXPECT_EQ(not_found->body, R"({"status":404})");
  auto no_content = c.Get("/api/status/204");
  ASSERT_TRUE(no_content);
  EXPECT_EQ(no_content->status, 204);

  auto slow = c.Get("/api/slow?ms=30");
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 200);
  EXPECT_EQ(slow->body, R"({"sleptMs":30})");

  auto missing = c.Get("/no/such/route");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, error_body("NOT_FOUND", "no route for GET /no/such/route"));
}

TEST_F(LegacySim, SigtermAnswersWaitingPollsAndExitsZero) {
  auto s = start({"--wait", "30s"});
  auto c = s.client();
  std::string cookie = login(c, "42");
  auto pending = std::async(std::launch::async, [&s, cookie] {
    auto pc = s.client();
    return updates(pc, cookie, "evt_123456");
  });
  // The poll must be holding its worker before the signal, or there is nothing to test.
  ASSERT_TRUE(wait_until_parked(c, 1));
  c.stop();  // an idle keep-alive connection would hold a worker through shutdown
  s.proc->signal(SIGTERM);
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto r = pending.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->get_header_value("X-Inbox-Cursor"), "evt_123456");
  EXPECT_EQ(s.proc->wait_exit(15s), 0) << s.proc->output();
  EXPECT_TRUE(s.proc->wait_for_line("legacy_sim: stopped", 5s));
}

TEST_F(LegacySim, WithoutDbATemporaryFileIsUsedAndRemoved) {
  temp_dir tmp;
  auto p = subprocess::spawn({LEGACY_SIM_BIN, "--listen", "127.0.0.1:0"},
                             {{{"TMPDIR", tmp.path()}}, ""});
  auto line = p->wait_for_line("database " + tmp.path() + "/legacy_sim-", 20s);
  ASSERT_TRUE(line) << p->output();
  auto path = line->substr(line->find(tmp.path()));
  path = path.substr(0, path.find(' '));
  EXPECT_EQ(access(path.c_str(), F_OK), 0) << path;
  p->signal(SIGTERM);
  EXPECT_EQ(p->wait_exit(15s), 0);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "removed at exit: " << path;
}

TEST_F(LegacySim, BadFlagsAndUnusableDatabaseExitNonZeroWithOneLine) {
  for (auto flags : std::vector<std::vector<std::string>>{{"--wait", "soon"},
                                                          {"--listen", "nowhere"},
                                                          {"--page-size", "0"},
                                                          {"--poll-path", "/x"}}) {
    flags.insert(flags.begin(), LEGACY_SIM_BIN);
    auto p = subprocess::spawn(flags);
    EXPECT_EQ(p->wait_exit(10s), 2) << flags[1] << "\n" << p->output();
    EXPECT_TRUE(p->wait_for_line("legacy_sim: ", 5s)) << p->output();
  }
  auto p = subprocess::spawn(
      {LEGACY_SIM_BIN, "--listen", "127.0.0.1:0", "--db", dir_.file("no/such/dir/inbox.db")});
  EXPECT_EQ(p->wait_exit(10s), 1) << p->output();
  EXPECT_TRUE(p->wait_for_line("legacy_sim: --db: cannot open", 5s)) << p->output();
}

}  // namespace
}  // namespace cutover::legacy_sim
