// legacy_sim through its real binary: the old app's sessions, who-am-I, legacy poll
// (DESIGN §2, §4) and ordinary routes, as the parity suite and pass-through tests use
// them. The store is written with Cutover's own writer, as ingest would.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "subprocess.hpp"

namespace cutover::legacy_sim {
namespace {

using cutover::testing::subprocess;
using cutover::testing::temp_dir;
using namespace std::chrono_literals;
namespace json = boost::json;

constexpr std::uint64_t kBase = 1'700'000'000'000;  // 2023-11-14T22:13:20.000Z

constexpr const char* kExpected =
    "expected a stream id like 1700000000000-0, a legacyId (a non-negative integer), or 0";

std::uint64_t legacy(std::uint64_t ms, std::uint64_t seq) {
  return ms * 1024 + std::min<std::uint64_t>(seq, 1023);
}

store::pending_entry entry(std::uint64_t ms, std::uint64_t seq, std::string topic,
                           std::string data = "{}", std::string type = "t") {
  return {stream_id{ms, seq},
          decoded_entry{std::move(topic), std::move(type), std::move(data), std::nullopt}, "s"};
}

std::string element(std::uint64_t ms, std::uint64_t seq, const std::string& type,
                    const std::string& created, const std::string& payload) {
  return R"({"id":)" + std::to_string(legacy(ms, seq)) + R"(,"type":")" + type +
         R"(","createdAt":")" + created + R"(","payload":)" + payload + "}";
}

std::string error_body(const std::string& slug, const std::string& message) {
  return R"({"error":")" + slug + R"(","message":)" + json::serialize(json::string(message)) + "}";
}

// A running legacy_sim on a free port.
struct sim {
  std::unique_ptr<subprocess> proc;
  int port = 0;

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(40s);  // polls are held by design; longer than any timeout used here
    return c;
  }
};

sim start(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {LEGACY_SIM_BIN, "--listen", "127.0.0.1:0"});
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

class LegacySim : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("store.db");
    auto w = store::writer::open(db_);
    ASSERT_TRUE(w) << w.err().message;
    writer_.emplace(std::move(*w));
  }

  void append(std::vector<store::pending_entry> entries) {
    store::append_batch b;
    b.entries = std::move(entries);
    auto r = writer_->append(b);
    ASSERT_TRUE(r) << r.err().message;
    ASSERT_EQ(r->added.size(), b.entries.size());
  }

  sim start_with_store(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"--db", db_});
    return start(std::move(flags));
  }

  // Logs `user` in; returns the Cookie header value to send back.
  static std::string login(httplib::Client& c, const std::string& user) {
    auto r = c.Post("/login", "user=" + user, "application/x-www-form-urlencoded");
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"userId":")" + user + R"("})");
    std::string set = r->get_header_value("Set-Cookie");
    EXPECT_TRUE(set.starts_with("sid=")) << set;
    EXPECT_TRUE(set.ends_with("; Path=/; HttpOnly")) << set;
    return set.substr(0, set.find(';'));
  }

  static httplib::Result poll(httplib::Client& c, const std::string& cookie,
                              std::optional<std::string> since,
                              const std::string& path = "/api/notifications/poll") {
    httplib::Params params;
    if (since) params.emplace("since", *since);
    httplib::Headers headers;
    if (!cookie.empty()) headers.emplace("Cookie", cookie);
    return c.Get(path, params, headers);
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
  std::string db_;
  std::optional<store::writer> writer_;
};

TEST_F(LegacySim, LoginMeAndPollWithBacklog) {
  append({entry(kBase, 0, "user:42", R"({"n":1})", "task.completed"),
          entry(kBase, 1, "user:7", R"({"not":"yours"})"),
          entry(kBase + 5, 0, "all", "[1,2]", "notice"),
          entry(kBase + 7, 3, "user:42", R"({"q":"a \"b\"","u":"\u00e9"})", "task.failed")});
  auto s = start_with_store({"--shared-topic", "all"});
  auto c = s.client();
  std::string cookie = login(c, "42");

  auto me = c.Get("/api/me", {{"Cookie", cookie}});
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(me->body, R"({"userId":"42"})");

  auto r = poll(c, cookie, "0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Byte for byte: the payload is the stored text, the key order is Cutover's.
  EXPECT_EQ(r->body,
            R"({"notifications":[)" +
                element(kBase, 0, "task.completed", "2023-11-14T22:13:20.000Z", R"({"n":1})") +
                "," + element(kBase + 5, 0, "notice", "2023-11-14T22:13:20.005Z", "[1,2]") + "," +
                element(kBase + 7, 3, "task.failed", "2023-11-14T22:13:20.007Z",
                        R"({"q":"a \"b\"","u":"\u00e9"})") +
                R"(],"lastId":)" + std::to_string(legacy(kBase + 7, 3)) + "}");

  // A stream-id cursor works as well and starts strictly after it.
  auto after = poll(c, cookie, std::to_string(kBase) + "-0");
  ASSERT_TRUE(after);
  auto body = json::parse(after->body).as_object();
  ASSERT_EQ(body["notifications"].as_array().size(), 2u);
  EXPECT_EQ(body["notifications"].as_array()[0].as_object()["id"].to_number<std::uint64_t>(),
            legacy(kBase + 5, 0));

  auto st = stats(c);
  EXPECT_EQ(st["me_requests"].to_number<int>(), 1);
  EXPECT_EQ(st["poll_requests"].to_number<int>(), 2);
  EXPECT_EQ(st["waiting_polls"].to_number<int>(), 0);
}

TEST_F(LegacySim, WhoAmIRefusesWithoutASessionAndAfterLogout) {
  auto s = start_with_store({});
  auto c = s.client();
  const std::string refused = error_body("unauthorized", "not logged in");

  auto none = c.Get("/api/me");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body, refused);

  auto unknown = c.Get("/api/me", {{"Cookie", "sid=00000000000000000000000000000000"}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401);

  std::string cookie = login(c, "alice");
  std::string other = login(c, "alice");
  EXPECT_NE(cookie, other) << "every login gets its own random session id";
  EXPECT_EQ(cookie.size(), 4u + 32u) << cookie;  // sid= and 128 bits in hex

  // Among other cookies, as a browser sends them.
  auto me = c.Get("/api/me", {{"Cookie", "theme=dark; " + cookie + "; lang=en"}});
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(me->body, R"({"userId":"alice"})");

  auto out = c.Post("/logout", {{"Cookie", cookie}}, "", "text/plain");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 204);
  auto gone = c.Get("/api/me", {{"Cookie", cookie}});
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 401);
  auto kept = c.Get("/api/me", {{"Cookie", other}});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->status, 200);

  // The query form of login works too; no user at all is a 400.
  auto q = c.Post("/login?user=bob", "", "text/plain");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->body, R"({"userId":"bob"})");
  auto missing = c.Post("/login", "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_EQ(json::parse(missing->body).as_object()["error"], "bad_request");

  auto st = stats(c);
  EXPECT_EQ(st["me_requests"].to_number<int>(), 5);
}

TEST_F(LegacySim, MalformedSinceIs400WithCutoversExactMessage) {
  auto s = start_with_store({});
  auto c = s.client();
  std::string cookie = login(c, "42");
  std::string long_value(100, '7');
  long_value[80] = 'x';  // malformed, and longer than the 64 bytes the message quotes
  for (std::string bad : {"abc", "-1", "1.5", " 1", "12-", "-5", "1-2-3", "0x10",
                          "99999999999999999999999", long_value.c_str()}) {
    auto r = poll(c, cookie, bad);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_EQ(r->body, error_body("bad_request", "since: malformed cursor '" + bad.substr(0, 64) +
                                                     "': " + kExpected))
        << bad;
  }
  auto empty = poll(c, cookie, "");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  EXPECT_EQ(empty->body,
            error_body("bad_request", std::string("since: empty cursor: ") + kExpected));
}

TEST_F(LegacySim, PollWithoutIdentityIs401) {
  append({entry(kBase, 0, "user:42", R"({"n":1})")});
  {
    auto s = start_with_store({});
    auto c = s.client();
    for (auto* path : {"/api/notifications/poll?since=0", "/api/notifications/poll?since=abc",
                       "/api/notifications/poll?since=0&user=42"}) {
      auto r = c.Get(path, {{"Cookie", "sid=nosuchsession"}});
      ASSERT_TRUE(r) << path;
      EXPECT_EQ(r->status, 401) << path;  // identity is checked before the cursor
      EXPECT_EQ(r->body, error_body("unauthorized", "not logged in")) << path;
    }
  }
  // --allow-user-param: ?user= is an identity, as in Cutover's insecure-query mode.
  auto s = start_with_store({"--allow-user-param", "--poll-path", "/legacy/poll.json"});
  auto c = s.client();
  auto r = c.Get("/legacy/poll.json?since=0&user=42");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).as_object()["lastId"].to_number<std::uint64_t>(),
            legacy(kBase, 0));
  auto old_path = c.Get("/api/notifications/poll?since=0&user=42");
  ASSERT_TRUE(old_path);
  EXPECT_EQ(old_path->status, 404);
  EXPECT_EQ(json::parse(old_path->body).as_object()["error"], "not_found");
}

TEST_F(LegacySim, TimeoutAnswersEmptyWithLastIdEchoingSince) {
  append({entry(kBase, 0, "user:42", "1"), entry(kBase + 1, 2000, "user:7", "2")});
  auto s = start_with_store({"--poll-timeout", "1s"});
  auto login_client = s.client();
  std::string cookie = login(login_client, "42");

  // Three polls at once: each holds a worker thread for the whole second.
  struct waiting_case {
    std::optional<std::string> since;
    std::uint64_t last_id;
  };
  std::vector<waiting_case> cases = {
      {std::nullopt, legacy(kBase + 1, 2000)},                   // newest in the store, any topic
      {std::to_string(legacy(kBase, 0)), legacy(kBase, 0)},      // caught up
      {std::to_string(kBase + 9) + "-5", legacy(kBase + 9, 5)},  // ahead of the store
      {std::to_string(legacy(kBase + 1, 5000)),
       legacy(kBase + 1, 5000)}  // tail: after the millisecond
  };
  std::vector<std::future<std::pair<httplib::Result, std::chrono::milliseconds>>> polls;
  for (const auto& wc : cases)
    polls.push_back(std::async(std::launch::async, [&s, cookie, since = wc.since] {
      auto c = s.client();
      auto t0 = std::chrono::steady_clock::now();
      auto r = poll(c, cookie, since);
      return std::pair{std::move(r), std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)};
    }));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto [r, took] = polls[i].get();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->body, R"({"notifications":[],"lastId":)" + std::to_string(cases[i].last_id) + "}")
        << i;
    EXPECT_GE(took, 900ms) << "answered before the poll timeout: " << i;
  }
}

TEST_F(LegacySim, ArrivalIsPickedUpAtTheNextRecheck) {
  append({entry(kBase, 0, "user:42", "1")});
  auto s = start_with_store({"--poll-timeout", "15s"});
  auto c = s.client();
  std::string cookie = login(c, "42");
  auto pending = std::async(std::launch::async, [&s, cookie] {
    auto pc = s.client();
    return poll(pc, cookie, std::to_string(legacy(kBase, 0)));
  });
  ASSERT_TRUE(wait_until_parked(c, 1));
  auto appended = std::chrono::steady_clock::now();
  append({entry(kBase + 50, 0, "user:7", "2"),
          entry(kBase + 60, 0, "user:42", R"({"late":true})", "x")});
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready)
      << "not picked up before the poll timeout";
  auto r = pending.get();
  auto latency = std::chrono::steady_clock::now() - appended;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            R"({"notifications":[)" +
                element(kBase + 60, 0, "x", "2023-11-14T22:13:20.060Z", R"({"late":true})") +
                R"(],"lastId":)" + std::to_string(legacy(kBase + 60, 0)) + "}");
  // Found by the once-a-second re-read: within about a second, not at the 15 s timeout.
  EXPECT_LT(latency, 3s);
  EXPECT_EQ(stats(c)["waiting_polls"].to_number<int>(), 0);
}

TEST_F(LegacySim, BatchesSplitWithoutCuttingALegacyIdGroup) {
  std::vector<store::pending_entry> e;
  for (std::uint64_t i = 0; i < 7; ++i) e.push_back(entry(kBase, i, "user:42", std::to_string(i)));
  // A bulk publish: four entries in one millisecond's tail share one legacyId.
  e.push_back(entry(kBase + 10, 0, "user:42", "\"a\""));
  for (std::uint64_t seq = 1023; seq < 1027; ++seq)
    e.push_back(entry(kBase + 11, seq, "user:42", "\"tail\""));
  e.push_back(entry(kBase + 12, 0, "user:42", "\"c\""));
  append(std::move(e));
  auto s = start_with_store({"--poll-batch", "3", "--poll-timeout", "500ms"});
  auto c = s.client();
  std::string cookie = login(c, "42");

  auto next = [&](std::uint64_t since) {
    auto r = poll(c, cookie, std::to_string(since));
    EXPECT_TRUE(r && r->status == 200);
    std::vector<std::uint64_t> ids;
    std::uint64_t last = 0;
    if (!r) return std::pair{ids, last};
    auto body = json::parse(r->body).as_object();
    for (const auto& n : body["notifications"].as_array())
      ids.push_back(n.as_object().at("id").to_number<std::uint64_t>());
    last = body["lastId"].to_number<std::uint64_t>();
    return std::pair{ids, last};
  };
  using ids = std::vector<std::uint64_t>;
  auto [b1, l1] = next(0);
  EXPECT_EQ(b1, (ids{legacy(kBase, 0), legacy(kBase, 1), legacy(kBase, 2)}));
  EXPECT_EQ(l1, legacy(kBase, 2));
  auto [b2, l2] = next(l1);
  EXPECT_EQ(b2, (ids{legacy(kBase, 3), legacy(kBase, 4), legacy(kBase, 5)}));
  // [6, a, tail, tail...]: the third slot starts the tail group, so the batch stops before it.
  auto [b3, l3] = next(l2);
  EXPECT_EQ(b3, (ids{legacy(kBase, 6), legacy(kBase + 10, 0)}));
  EXPECT_EQ(l3, legacy(kBase + 10, 0));
  // The group is larger than the batch: it goes out whole, once.
  std::uint64_t tail = legacy(kBase + 11, 1023);
  auto [b4, l4] = next(l3);
  EXPECT_EQ(b4, (ids{tail, tail, tail, tail}));
  EXPECT_EQ(l4, tail);
  auto [b5, l5] = next(l4);
  EXPECT_EQ(b5, (ids{legacy(kBase + 12, 0)}));
  auto [b6, l6] = next(l5);
  EXPECT_TRUE(b6.empty());
  EXPECT_EQ(l6, l5);
}

TEST_F(LegacySim, OrdinaryRoutesForPassThrough) {
  auto s = start({});  // no store: ordinary routes do not need one
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
  EXPECT_EQ(missing->body, error_body("not_found", "no route for GET /no/such/route"));

  // Without a store every poll simply waits and times out; that needs no store either.
}

TEST_F(LegacySim, SigtermAnswersWaitingPollsAndExitsZero) {
  auto s = start_with_store({"--poll-timeout", "30s"});
  auto c = s.client();
  std::string cookie = login(c, "42");
  auto pending = std::async(std::launch::async, [&s, cookie] {
    auto pc = s.client();
    return poll(pc, cookie, "123456");
  });
  // The poll must be holding its worker before the signal, or there is nothing to test.
  ASSERT_TRUE(wait_until_parked(c, 1));
  c.stop();  // an idle keep-alive connection would hold a worker through shutdown
  s.proc->signal(SIGTERM);
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto r = pending.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"notifications":[],"lastId":123456})");
  EXPECT_EQ(s.proc->wait_exit(15s), 0) << s.proc->output();
  EXPECT_TRUE(s.proc->wait_for_line("legacy_sim: stopped", 5s));
}

TEST_F(LegacySim, StoreClosedByItsWriterIsStillReadable) {
  append({entry(kBase, 0, "user:42", "1")});
  writer_.reset();  // the last writer connection checkpoints and removes the WAL files
  auto s = start_with_store({});
  auto c = s.client();
  auto r = poll(c, login(c, "42"), "0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).as_object()["lastId"].to_number<std::uint64_t>(),
            legacy(kBase, 0));
}

TEST_F(LegacySim, BadFlagsAndMissingStoreExitNonZeroWithOneLine) {
  for (auto flags : std::vector<std::vector<std::string>>{{"--poll-timeout", "soon"},
                                                          {"--listen", "nowhere"},
                                                          {"--poll-batch", "0"},
                                                          {"--poll-path", "poll"}}) {
    flags.insert(flags.begin(), LEGACY_SIM_BIN);
    auto p = subprocess::spawn(flags);
    EXPECT_EQ(p->wait_exit(10s), 2) << flags[1] << "\n" << p->output();
    EXPECT_TRUE(p->wait_for_line("legacy_sim: ", 5s)) << p->output();
  }
  auto p = subprocess::spawn(
      {LEGACY_SIM_BIN, "--listen", "127.0.0.1:0", "--db", dir_.file("missing.db")});
  EXPECT_EQ(p->wait_exit(10s), 1) << p->output();
  EXPECT_TRUE(p->wait_for_line("legacy_sim: --db: cannot open", 5s)) << p->output();
}

}  // namespace
}  // namespace cutover::legacy_sim
