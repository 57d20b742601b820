// Issue 12, the store/ingest/operations half: each test reproduces what the hardening
// session broke, against the real `cutover serve` and a real redis-server, and failed
// before its fix. Synchronisation is on events: lines the process prints, its exit,
// /metrics values and answers.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cutover_proc.hpp"
#include "run_cutover.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::json_field;
using testing::raw_ws;
using testing::redis_client;
using testing::redis_server;
using testing::run_cutover;
using testing::temp_dir;

const std::vector<std::string> kInsecure = {"--auth", "insecure-query"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- 1. one owner per store ------------------------------------------------------------

TEST(OwnerLock, SecondServeOnOneStoreExitsOneNamingTheHolderAndReadersStillWork) {
  redis_server redis;
  redis_client pub(redis.port());
  temp_dir dir;
  const std::string db = dir.file("shared.db");
  auto first = std::make_unique<cutover_server>(redis, kInsecure, db);
  pub.xadd("cutover:notifications", {{"topic", "user:1"}, {"data", "1"}});
  ASSERT_TRUE(first->wait_metric_at_least("cutover_ingest_entries_total", 1));

  // A second serve on the same store: refused at once, naming the holder.
  auto second = run_cutover(
      with({"serve", "--listen", "127.0.0.1:0", "--db", db, "--redis", redis.url()}, kInsecure));
  EXPECT_EQ(second.code, 1) << second.out;
  EXPECT_NE(second.out.find("already in use by pid " + std::to_string(first->process().pid())),
            std::string::npos)
      << second.out;
  EXPECT_NE(second.out.find(db + ".lock"), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("listening"), std::string::npos) << second.out;

  // An import writes the store too: the same refusal.
  std::ofstream(dir.file("rows.ndjson"))
      << R"({"id":5,"user":"1","type":"t","time":"2020-01-01T00:00:00Z","payload":{}})"
      << "\n";
  auto imp = run_cutover({"import", "--db", db, "--profile",
                          std::string(CUTOVER_SOURCE_DIR) + "/docs/profiles/builtin.json",
                          dir.file("rows.ndjson")});
  EXPECT_EQ(imp.code, 1) << imp.out;
  EXPECT_NE(imp.out.find("already in use by pid"), std::string::npos) << imp.out;

  // Read-only commands run beside the owner.
  auto status = run_cutover({"db", "status", "--db", db});
  EXPECT_EQ(status.code, 0) << status.out;
  auto replay = run_cutover({"replay", "--db", db, "--user", "1"});
  EXPECT_EQ(replay.code, 0) << replay.out;
  EXPECT_NE(replay.out.find("\"topic\":\"user:1\""), std::string::npos) << replay.out;

  // kill -9 releases the lock: the next serve starts and delivers what the first stored.
  first->process().signal(SIGKILL);
  ASSERT_TRUE(first->process().wait_exit(10s));
  first.reset();
  cutover_server next(redis, with(kInsecure, {"--poll-timeout", "1s"}), db);
  auto r = http_get(next.port(), "/api/notifications/poll?user=1&since=0");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"payload\":1"), std::string::npos) << r.body;
}

// ---- 2. idempotency keys per topic -------------------------------------------------------

TEST(IdempotencyKey, SameKeyOnAnotherTopicIsDeliveredAndRepeatsAreCountedByKey) {
  redis_server redis;
  redis_client pub(redis.port());
  cutover_server srv(redis, with(kInsecure, {"--poll-timeout", "1s"}));
  auto add = [&](const std::string& topic, const std::string& data) {
    return pub.xadd("cutover:notifications",
                    {{"topic", topic}, {"data", data}, {"key", "order-7"}});
  };
  add("user:1", "1");
  add("user:2", "2");  // another topic: another entry
  add("user:1", "3");  // the same key on the same topic: stored once
  add("user:2", "4");
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_duplicate_keys_total", 2))
      << srv.metric("cutover_ingest_entries_total").value_or(-1);
  EXPECT_EQ(srv.metric("cutover_ingest_entries_total"), 2);
  EXPECT_EQ(srv.metric("cutover_dead_letters_total"), 0);
  auto r = http_get(srv.port(), "/api/notifications/poll?user=2&since=0");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"payload\":2"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("\"payload\":4"), std::string::npos) << r.body;
}

// ---- 3. ids ahead of the clock ----------------------------------------------------------

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::size_t count_of(const std::string& body, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = body.find(needle); p != std::string::npos; p = body.find(needle, p + 1)) ++n;
  return n;
}

TEST(IdsAhead, ATailIdAheadOfTheClockIsDeliveredOnceWithoutALegacyClientSpinning) {
  redis_server redis;
  redis_client pub(redis.port());
  cutover_server srv(redis, with(kInsecure, {"--poll-timeout", "2500ms"}));
  // One entry a minute ahead, in a millisecond's tail (seq >= 1023): before the fix its
  // tail stayed "open" for that minute, and every poll answered it again at once.
  const std::string ahead = std::to_string(now_ms() + 60'000) + "-5000";
  auto add = pub.command(
      {"XADD", "cutover:notifications", ahead, "topic", "user:1", "data", R"({"ahead":true})"});
  ASSERT_EQ(add->type, REDIS_REPLY_STRING);
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_ids_ahead_total", 1));
  auto ready = http_get(srv.port(), "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("\"id_ahead_of_clock\":\"" + ahead + "\""), std::string::npos)
      << ready.body;
  EXPECT_EQ(http_get(srv.port(), "/healthz").status, 200);

  auto first = http_get(srv.port(), "/api/notifications/poll?user=1&since=0", {}, 15s);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(count_of(first.body, "\"ahead\":true"), 1u) << first.body;
  std::string last = json_field(first.body, "lastId");
  // The client follows lastId: nothing again, twice (a spinning client gets it every time).
  for (int i = 0; i < 2; ++i) {
    auto next = http_get(srv.port(), "/api/notifications/poll?user=1&since=" + last, {}, 15s);
    ASSERT_EQ(next.status, 200);
    EXPECT_EQ(count_of(next.body, "\"ahead\":true"), 0u) << "poll " << i << ": " << next.body;
    last = json_field(next.body, "lastId");
  }
}

TEST(IdsAhead, AnIdPast2248IsStoredAndEveryLaterEntryToo) {
  redis_server redis;
  redis_client pub(redis.port());
  cutover_server srv(redis, with(kInsecure, {"--poll-timeout", "1s"}));
  // 9000000000000 ms is in 2255. Redis gives every later `*` entry an id after it, so
  // before the fix every one of them was dead-lettered.
  pub.command({"XADD", "cutover:notifications", "9000000000000-0", "topic", "user:2", "data", "0"});
  for (int i = 1; i <= 3; ++i)
    pub.xadd("cutover:notifications", {{"topic", "user:2"}, {"data", std::to_string(i)}});
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 4))
      << srv.metric("cutover_dead_letters_total").value_or(-1);
  EXPECT_EQ(srv.metric("cutover_dead_letters_total"), 0);
  EXPECT_EQ(srv.metric("cutover_ingest_ids_ahead_total"), 4);
  EXPECT_EQ(http_get(srv.port(), "/readyz").status, 503);
  auto r = http_get(srv.port(), "/api/notifications/poll?user=2&since=0");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(count_of(r.body, "\"payload\":"), 4u) << r.body;
  // The WebSocket shows the stream ids as they are.
  raw_ws ws(srv.port(), "/v1/ws?user=2&since=0");
  ASSERT_EQ(ws.handshake_status(), 101);
  std::vector<std::string> ids;
  while (ids.size() < 4) {
    auto f = ws.next_text();
    ASSERT_TRUE(f);
    if (json_field(*f, "type") == "notification") ids.push_back(json_field(*f, "id"));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"9000000000000-0", "9000000000000-1", "9000000000000-2",
                                           "9000000000000-3"}));
}

// ---- 4. the pub/sub bridge --------------------------------------------------------------

TEST(PubsubBridge, PublishInterleavedWithXaddReachesALiveWebSocketWholeAndInIdOrder) {
  redis_server redis;
  redis_client pub(redis.port());
  cutover_server srv(redis, with(kInsecure, {"--pubsub"}));
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_pubsub_bridge_active", 1));
  raw_ws ws(srv.port(), "/v1/ws?user=1", 1 << 20);
  ASSERT_EQ(ws.handshake_status(), 101);
  auto hello = ws.next_text();
  ASSERT_TRUE(hello && json_field(*hello, "type") == "hello") << hello.value_or("");

  constexpr int kEach = 3000;
  std::thread publisher([&] {
    redis_client c(redis.port());
    std::vector<std::vector<std::string>> cmds;
    for (int i = 0; i < 2 * kEach; ++i) {
      std::string n = std::to_string(i);
      if (i % 2 == 0)
        cmds.push_back({"PUBLISH", "cutover:topic:user:1", R"({"type":"p","data":)" + n + "}"});
      else
        cmds.push_back(
            {"XADD", "cutover:notifications", "*", "topic", "user:1", "type", "s", "data", n});
      if (cmds.size() == 100) {
        c.pipeline(cmds);
        cmds.clear();
      }
    }
    if (!cmds.empty()) c.pipeline(cmds);
  });
  std::vector<std::string> ids;
  std::vector<int> seen(2 * kEach, 0);
  while (ids.size() < 2 * kEach) {
    auto f = ws.next_text(20s);
    if (!f) break;
    if (json_field(*f, "type") != "notification") continue;
    ids.push_back(json_field(*f, "id"));
    int n = std::stoi(json_field(*f, "data"));
    ASSERT_GE(n, 0);
    ASSERT_LT(n, 2 * kEach);
    ++seen[static_cast<std::size_t>(n)];
  }
  publisher.join();
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(2 * kEach));
  for (int n = 0; n < 2 * kEach; ++n) EXPECT_EQ(seen[static_cast<std::size_t>(n)], 1) << n;
  auto parse = [](const std::string& id) {
    auto d = id.find('-');
    return std::pair<std::uint64_t, std::uint64_t>(std::stoull(id.substr(0, d)),
                                                   std::stoull(id.substr(d + 1)));
  };
  for (std::size_t i = 1; i < ids.size(); ++i)
    ASSERT_LT(parse(ids[i - 1]), parse(ids[i])) << ids[i - 1] << " then " << ids[i];
  EXPECT_EQ(srv.metric("cutover_dead_letters_total"), 0);
  EXPECT_EQ(srv.metric("cutover_pubsub_bridged_total"), kEach);
  // Every pub/sub message is in the stream once, under the id the client saw.
  EXPECT_EQ(pub.xrange("cutover:notifications").size(), static_cast<std::size_t>(2 * kEach));
}

TEST(PubsubBridge, OneCopyWithTwoInstancesAndTheOtherTakesOverWhenTheBridgeIsKilled) {
  redis_server redis;
  redis_client pub(redis.port());
  const std::vector<std::string> flags =
      with(kInsecure, {"--pubsub", "--pubsub-lock-ttl", "500ms", "--poll-timeout", "1s"});
  auto a = std::make_unique<cutover_server>(redis, flags);
  ASSERT_TRUE(a->wait_metric_at_least("cutover_pubsub_bridge_active", 1));
  cutover_server b(redis, flags);
  EXPECT_EQ(b.metric("cutover_pubsub_bridge_active"), 0);
  for (int i = 0; i < 20; ++i) pub.command({"PUBLISH", "cutover:topic:user:1", std::to_string(i)});
  ASSERT_TRUE(a->wait_metric_at_least("cutover_ingest_entries_total", 20));
  ASSERT_TRUE(b.wait_metric_at_least("cutover_ingest_entries_total", 20));
  EXPECT_EQ(pub.xrange("cutover:notifications").size(), 20u);  // one copy, not two

  a->process().signal(SIGKILL);  // no hand-over: the lock must expire
  ASSERT_TRUE(a->process().wait_exit(10s));
  a.reset();
  ASSERT_TRUE(b.wait_metric_at_least("cutover_pubsub_bridge_active", 1, 10s));
  pub.command({"PUBLISH", "cutover:topic:user:1", "20"});
  ASSERT_TRUE(b.wait_metric_at_least("cutover_ingest_entries_total", 21));
  EXPECT_EQ(pub.xrange("cutover:notifications").size(), 21u);
  EXPECT_EQ(b.metric("cutover_dead_letters_total"), 0);
}

// ---- 5. operations ------------------------------------------------------------------------

TEST(Operations, BoundedNumbersAndAUserSharedTopicExitTwoBeforeTheStore) {
  temp_dir dir;
  const std::vector<std::vector<std::string>> bad = {
      {"--store-readers", "0"},      {"--max-connections", "0"},   {"--retain-per-topic", "-5"},
      {"--stream-start", "garbage"}, {"--shared-topic", "user:5"}, {"--auth-threads", "0"},
      {"--store-readers", "100000"},
  };
  for (const auto& flags : bad) {
    auto r = run_cutover(
        with({"serve", "--db", dir.file("never.db"), "--auth", "insecure-query"}, flags));
    EXPECT_EQ(r.code, 2) << flags[0] << " " << flags[1] << ": " << r.out;
    EXPECT_NE(r.out.find(flags[0]), std::string::npos) << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("never.db")));
}

// The cohort header a poll of `user` gets (empty when not in the cohort).
std::string upgrade_header(int port, const std::string& user) {
  auto r = http_get(port, "/api/notifications/poll?user=" + user + "&since=0", {}, 5s);
  auto it = r.headers.find("x-cutover-upgrade");
  return it == r.headers.end() ? std::string() : it->second;
}

TEST(Operations, ServeTakesConfigAfterTheSubcommandAndABrokenReloadChangesNothing) {
  redis_server redis;
  redis_client pub(redis.port());
  temp_dir dir;
  const std::string cfg = dir.file("cutover.toml");
  std::ofstream(cfg) << "[serve]\nauth = \"insecure-query\"\nws-rollout-percent = 100\n"
                        "poll-timeout = \"300ms\"\n";
  // `serve --config FILE`, as --help offers it (it was refused: "not expected").
  // A top-level option next to it (--log-format) must not make the reload refuse.
  cutover_server srv(redis, {"--config", cfg, "--log-format", "text"});
  pub.xadd("cutover:notifications", {{"topic", "user:1"}, {"data", "1"}});
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 1));
  ASSERT_EQ(upgrade_header(srv.port(), "1"), "/v1/ws");

  auto reload = [&](const std::string& expect) {
    auto from = srv.process().line_count();
    srv.process().signal(SIGHUP);
    return srv.process().wait_for_line(expect, 10s, from);
  };
  // A typo'd key: before, the percentage silently became 0 and the cohort was dropped.
  std::ofstream(cfg) << "[serve]\nauth = \"insecure-query\"\nws-rollout-precent = 50\n";
  auto line = reload("SIGHUP: nothing changed");
  ASSERT_TRUE(line) << srv.process().output();
  EXPECT_NE(line->find("ws-rollout-precent"), std::string::npos) << *line;
  EXPECT_EQ(upgrade_header(srv.port(), "1"), "/v1/ws");
  // Any invalid part refuses the whole file, reloadable or not.
  std::ofstream(cfg) << "[serve]\nauth = \"insecure-query\"\nws-rollout-percent = 0\n"
                        "store-readers = 0\n";
  ASSERT_TRUE(reload("SIGHUP: nothing changed")) << srv.process().output();
  EXPECT_EQ(upgrade_header(srv.port(), "1"), "/v1/ws");
  std::filesystem::remove(cfg);
  ASSERT_TRUE(reload("SIGHUP: nothing changed")) << srv.process().output();
  EXPECT_EQ(upgrade_header(srv.port(), "1"), "/v1/ws");
  // A valid file applies.
  std::ofstream(cfg) << "[serve]\nauth = \"insecure-query\"\nws-rollout-percent = 0\n";
  ASSERT_TRUE(reload("SIGHUP: rollout now 0%")) << srv.process().output();
  EXPECT_EQ(upgrade_header(srv.port(), "1"), "");
}

TEST(Operations, ReadyzIsNotReadyWhenTheStoreFileIsDeleted) {
  redis_server redis;
  cutover_server srv(redis, kInsecure);
  std::string body;
  for (int i = 0; i < 200 && body.find("\"ready\":true") == std::string::npos; ++i)
    body = http_get(srv.port(), "/readyz").body;  // paced by the server's answers
  ASSERT_NE(body.find("\"ready\":true"), std::string::npos) << body;
  std::filesystem::remove(srv.db());
  auto r = http_get(srv.port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"store\":\"missing\""), std::string::npos) << r.body;
  EXPECT_EQ(http_get(srv.port(), "/healthz").status, 200);
}

TEST(Operations, ReadyzIsNotReadyWithAFullDisk) {
  temp_dir dir;
  const std::string small = dir.file("small");
  std::filesystem::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=4m") != 0)
    GTEST_SKIP() << "mounting a tmpfs needs root (CAP_SYS_ADMIN)";
  struct unmount {
    std::string where;
    ~unmount() { ::umount2(where.c_str(), MNT_DETACH); }
  } guard{small};
  redis_server redis;
  {
    cutover_server srv(redis, kInsecure, small + "/cutover.db");
    std::string body;
    for (int i = 0; i < 200 && body.find("\"ready\":true") == std::string::npos; ++i)
      body = http_get(srv.port(), "/readyz").body;
    ASSERT_NE(body.find("\"ready\":true"), std::string::npos) << body;
    auto free_bytes = std::filesystem::space(small).available;
    {
      std::ofstream filler(small + "/filler", std::ios::binary);
      filler << std::string(free_bytes - 64 * 1024, '\0');
    }
    auto r = http_get(srv.port(), "/readyz");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("\"store\":\"disk_full\""), std::string::npos) << r.body;
    std::filesystem::remove(small + "/filler");
    EXPECT_EQ(http_get(srv.port(), "/readyz").status, 200);
  }
}

TEST(Operations, EntriesTrimmedBeforeIngestReadThemAreCountedAndLogged) {
  redis_server redis;
  redis_client pub(redis.port());
  temp_dir dir;
  const std::string db = dir.file("trim.db");
  for (int i = 0; i < 10; ++i)
    pub.xadd("cutover:notifications", {{"topic", "user:1"}, {"data", std::to_string(i)}});
  {
    cutover_server srv(redis, kInsecure, db);
    ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 10));
    srv.process().signal(SIGTERM);
    ASSERT_EQ(srv.process().wait_exit(10s), 0);
  }
  // While no serve reads: 100 more, then a trim to the newest 10 (90 lost to this store).
  for (int i = 10; i < 110; ++i)
    pub.xadd("cutover:notifications", {{"topic", "user:1"}, {"data", std::to_string(i)}});
  pub.command({"XTRIM", "cutover:notifications", "MAXLEN", "10"});
  cutover_server srv(redis, kInsecure, db);
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_trimmed_gaps_total", 1))
      << srv.process().output();
  EXPECT_TRUE(srv.process().wait_for_line("were trimmed in Redis", 5s)) << srv.process().output();
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 10));
}

}  // namespace
}  // namespace cutover
