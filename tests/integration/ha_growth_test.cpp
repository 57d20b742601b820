// Growing out (issue 16, DESIGN §11): `--ready-min-history`, `cutover db snapshot` and the
// digest in /metrics and `cutover db status`, against the real `cutover serve` and a real
// redis-server. Synchronisation is on events: /metrics values, answers, process exits.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cutover_proc.hpp"
#include "ingest_fixtures.hpp"
#include "run_cutover.hpp"
#include "sentinel_cluster.hpp"

namespace cutover {
namespace {

using namespace std::chrono_literals;
using testing::cutover_server;
using testing::http_get;
using testing::redis_client;
using testing::redis_server;
using testing::run_cutover;
using testing::temp_dir;

const std::vector<std::string> kInsecure = {"--auth", "insecure-query"};

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

TEST(ReadyMinHistory, NotReadyUntilTheOldestStoredEntryIsThatOld) {
  redis_server redis;
  const auto min_history = 6s;
  cutover_server srv(redis, {"--auth", "insecure-query", "--ready-min-history", "6s"});
  // Connected and caught up (an empty stream: lag 0), but nothing stored: no history.
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_lag_milliseconds", 0));
  auto empty = http_get(srv.port(), "/readyz");
  EXPECT_EQ(empty.status, 503) << empty.body;
  EXPECT_NE(empty.body.find("\"redis\":\"connected\",\"lag_ms\":0"), std::string::npos)
      << empty.body;
  EXPECT_NE(empty.body.find("\"history_ms\":0"), std::string::npos) << empty.body;

  // One entry 3 s old: ready once it is 6 s old, not before.
  const std::uint64_t at = now_ms() - 3000;
  redis_client(redis.port())
      .command({"XADD", "cutover:notifications", std::to_string(at) + "-0", "topic", "all", "data",
                "1"});
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ingest_entries_total", 1));
  auto young = http_get(srv.port(), "/readyz");
  if (now_ms() - at < static_cast<std::uint64_t>(min_history.count() * 1000) - 500) {
    EXPECT_EQ(young.status, 503) << young.body;
    EXPECT_NE(young.body.find("\"history_ms\":"), std::string::npos) << young.body;
  }
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ready", 1, 20s));
  EXPECT_GE(now_ms() - at, static_cast<std::uint64_t>(min_history.count() * 1000));
  auto ready = http_get(srv.port(), "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
}

TEST(ReadyMinHistory, OffByDefault) {
  redis_server redis;
  cutover_server srv(redis, kInsecure);
  ASSERT_TRUE(srv.wait_metric_at_least("cutover_ready", 1));
  EXPECT_EQ(http_get(srv.port(), "/readyz").body.find("history_ms"), std::string::npos);
}

TEST(GrowingOut, BadFlagsExitTwoBeforeTheStoreAndASnapshotNeedsAStore) {
  temp_dir dir;
  const std::vector<std::vector<std::string>> bad = {{"--redis-read", "http://x"},
                                                     {"--redis-read", "redis://h:0"},
                                                     {"--ready-min-history", "soon"}};
  for (const auto& flags : bad) {
    std::vector<std::string> args = {"serve", "--db", dir.file("never.db"), "--auth",
                                     "insecure-query"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = run_cutover(args);
    EXPECT_EQ(r.code, 2) << flags[0] << " " << flags[1] << ": " << r.out;
    EXPECT_NE(r.out.find(flags[0]), std::string::npos) << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("never.db")));
  auto r = run_cutover({"db", "snapshot", "--db", dir.file("never.db"), dir.file("copy.db")});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no store at"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("copy.db")));
}

std::string offset_line(const std::string& db) {
  auto r = run_cutover({"db", "status", "--db", db});
  EXPECT_EQ(r.code, 0) << r.out;
  auto at = r.out.find("ingest offset cutover:notifications: ");
  if (at == std::string::npos) return "none:\n" + r.out;
  return r.out.substr(at, r.out.find('\n', at) - at);
}

TEST(DbSnapshot, ANewInstanceFromTheCopyContinuesWithoutLossOrDuplicates) {
  redis_server redis;
  redis_client pub(redis.port());
  temp_dir dir;
  const std::string a_db = dir.file("a.db"), copy = dir.file("copy/b.db");
  auto a = std::make_unique<cutover_server>(redis, kInsecure, a_db);
  for (int i = 1; i <= 30; ++i)
    pub.xadd("cutover:notifications", {{"topic", "user:1"}, {"data", std::to_string(i)}});
  ASSERT_TRUE(a->wait_metric_at_least("cutover_ingest_entries_total", 30));
  // Taken while the instance runs and goes on ingesting.
  auto snap = run_cutover({"db", "snapshot", "--db", a_db, copy});
  ASSERT_EQ(snap.code, 0) << snap.out;
  EXPECT_NE(snap.out.find("with 30 notifications"), std::string::npos) << snap.out;
  auto again = run_cutover({"db", "snapshot", "--db", a_db, copy});
  EXPECT_EQ(again.code, 1) << again.out;
  EXPECT_NE(again.out.find("already exists"), std::string::npos) << again.out;
  for (int i = 31; i <= 50; ++i)
    pub.xadd("cutover:notifications", {{"topic", "user:1"}, {"data", std::to_string(i)}});
  ASSERT_TRUE(a->wait_metric_at_least("cutover_ingest_entries_total", 50));

  // The new instance starts from the copy and ingests exactly what came after it.
  auto b = std::make_unique<cutover_server>(redis, kInsecure, copy);
  ASSERT_TRUE(b->wait_metric_at_least("cutover_ingest_entries_total", 20));
  ASSERT_TRUE(b->wait_metric_at_least("cutover_ready", 1));
  EXPECT_EQ(b->metric("cutover_ingest_entries_total"), 20);
  EXPECT_EQ(b->metric("cutover_ingest_duplicates_total"), 0);
  // Both report the same digest at the same offset, in /metrics and in `db status`.
  auto digest_of = [](const cutover_server& s) {
    auto body = http_get(s.port(), "/metrics").body;
    auto at = body.find("cutover_ingest_digest_info{");
    return at == std::string::npos ? std::string("none")
                                   : body.substr(at, body.find('\n', at) - at);
  };
  EXPECT_EQ(digest_of(*a), digest_of(*b));
  EXPECT_NE(digest_of(*a).find("stream=\"cutover:notifications\""), std::string::npos);
  a.reset();
  b.reset();
  auto rows_a = ingest::test::stored_rows(a_db), rows_b = ingest::test::stored_rows(copy);
  ASSERT_EQ(rows_a.size(), 50u);
  EXPECT_EQ(rows_a, rows_b);
  std::set<std::string> data;
  for (const auto& r : rows_b) data.insert(r.data);
  EXPECT_EQ(data.size(), 50u);
  auto line = offset_line(a_db);
  EXPECT_NE(line.find(" over 50 entries"), std::string::npos) << line;
  EXPECT_EQ(line, offset_line(copy));
}

// --publish-replicas through POST /v1/publish (DESIGN §3): a 202 means WAIT 1 confirmed the
// entry on a replica, so a SENTINEL FAILOVER in the middle of publishing loses none of them,
// and the retry after an unconfirmed WAIT (same idempotency key) stores none twice.
TEST(PublishReplicas, EveryAcceptedHttpPublishSurvivesAFailoverOnceOnBothInstances) {
  testing::sentinel_cluster cluster;  // min-replicas-to-write 1
  const std::vector<std::string> flags = {
      "--redis", cluster.url(),        "--auth", "insecure-query", "--admin-token",
      "T",       "--publish-replicas", "1"};
  cutover_server a(cluster.server(cluster.master_port()), flags);
  cutover_server b(cluster.server(cluster.master_port()), flags);
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> accepted;
  std::map<int, int> answers;  // status -> count
  std::atomic<bool> done{false};
  std::thread pub([&] {
    for (int i = 0; !done; ++i) {
      std::string data = std::to_string(i);
      auto r =
          testing::http_post(i % 2 ? a.port() : b.port(), "/v1/publish",
                             "{\"topic\":\"all\",\"data\":" + data + ",\"key\":\"k" + data + "\"}",
                             {{"Authorization", "Bearer T"}}, 10s);
      std::lock_guard lk(mu);
      ++answers[r.status];
      if (r.status == 202) accepted.insert(data);
      cv.notify_all();
      // A publisher's retry pace while the new master refuses writes, not a synchronisation.
      if (r.status != 202) std::this_thread::sleep_for(50ms);
    }
  });
  struct stopper {
    std::atomic<bool>& done;
    std::thread& t;
    ~stopper() {
      done = true;
      if (t.joinable()) t.join();
    }
  } stop_publishing{done, pub};
  auto accepted_at_least = [&](std::size_t n) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, 60s, [&] { return accepted.size() >= n; });
  };
  ASSERT_TRUE(accepted_at_least(30));
  std::size_t before = 0;
  {
    std::lock_guard lk(mu);
    before = accepted.size();
  }
  cluster.failover();
  ASSERT_TRUE(accepted_at_least(before + 30));
  done = true;
  pub.join();
  std::lock_guard lk(mu);
  for (auto* s : {&a, &b})
    ASSERT_TRUE(s->wait_metric_at_least("cutover_ingest_entries_total",
                                        static_cast<double>(accepted.size()), 30s));
  for (auto* s : {&a, &b}) {
    std::multiset<std::string> stored;
    for (const auto& r : ingest::test::stored_rows(s->db())) stored.insert(r.data);
    for (const auto& d : accepted) EXPECT_EQ(stored.count(d), 1u) << d << " in " << s->db();
    EXPECT_EQ(std::set<std::string>(stored.begin(), stored.end()).size(), stored.size())
        << "an entry stored twice in " << s->db();
    // A rewind may happen: an entry the old master took but no replica confirmed (answered
    // 503, or never answered) can be lost by the failover, and is then reported as an
    // orphan. No accepted entry is ever among them.
    auto h = store::sql::open(s->db(), store::sql::open_mode::existing);
    ASSERT_TRUE(h);
    auto q = store::sql::statement::prepare(h->get(), "SELECT data FROM orphans");
    ASSERT_TRUE(q);
    std::size_t orphans = 0;
    while (q->step() == SQLITE_ROW) {
      ++orphans;
      EXPECT_EQ(accepted.count(std::string(q->text(0))), 0u)
          << "accepted entry " << q->text(0) << " lost in " << s->db();
    }
    std::cout << "figures: " << s->db() << ": rewinds "
              << s->metric("cutover_stream_rewinds_total").value_or(-1) << ", orphans (never "
              << "accepted) " << orphans << "\n";
  }
  std::cout << "figures: accepted " << accepted.size() << ", answers";
  for (const auto& [status, n] : answers) std::cout << " " << status << ":" << n;
  std::cout << "\n";
}

}  // namespace
}  // namespace cutover
