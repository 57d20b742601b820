// Stream ingest against a real redis-server: ordering, exactly-once across stops, Redis
// restarts, dropped connections and failed commits; dead letters; dedupe; stream_start.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "ingest_fixtures.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_options;
using testing::redis_server;
using testing::temp_dir;

class StreamIngest : public ::testing::Test {
 protected:
  std::string db() const { return dir_.file("store.db"); }
  redis_client& client() { return *client_; }
  void reconnect_client() { client_ = std::make_unique<redis_client>(redis_->port()); }

  // XADDs `n` entries to `stream`, topic user:(i%3), and returns their ids.
  std::vector<std::string> add(std::size_t n, std::size_t first = 0,
                               const std::string& stream = kDefaultStream) {
    std::vector<std::vector<std::string>> cmds;
    for (std::size_t i = first; i < first + n; ++i)
      cmds.push_back({"XADD", stream, "*", "topic", "user:" + std::to_string(i % 3), "type", "t",
                      "data", "{\"i\": " + std::to_string(i) + "}"});
    std::vector<std::string> ids;
    for (auto& c : cmds) {
      auto r = client().command(c);
      EXPECT_EQ(r->type, REDIS_REPLY_STRING);
      ids.emplace_back(r->str, r->len);
    }
    return ids;
  }
  static std::vector<row> expected_rows(const std::vector<std::string>& ids,
                                        std::size_t first = 0) {
    std::vector<row> out;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      std::size_t i = first + k;
      out.push_back(
          {ids[k], "user:" + std::to_string(i % 3), "t", "{\"i\":" + std::to_string(i) + "}"});
    }
    return out;
  }

  void start_redis(redis_options o = {}) {
    redis_ = std::make_unique<redis_server>(std::move(o));
    reconnect_client();
  }
  void SetUp() override {
    if (!redis_) start_redis();
  }

  temp_dir dir_;
  std::unique_ptr<redis_server> redis_;
  std::unique_ptr<redis_client> client_;
  log_capture log_;
};

TEST_F(StreamIngest, StoresEntriesInIdOrderWithCompactData) {
  auto ids = add(5);
  recording_listener l;
  ingest ing(test_options(db(), redis_->url(), &log_), l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(5));
  EXPECT_EQ(stored_rows(db()), expected_rows(ids));
  auto got = l.all();
  ASSERT_EQ(got.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(got[i]->id.str(), ids[i]);
  auto s = ing.snapshot();
  EXPECT_EQ(s.entries_committed, 5u);
  EXPECT_EQ(s.state, link_state::connected);
  ASSERT_TRUE(s.committed);
  EXPECT_EQ(s.committed->str(), ids.back());
  EXPECT_EQ(stored_offset(db(), kDefaultStream), ids.back());
  EXPECT_TRUE(log_.wait_for("connected to " + redis_->url()));
  ing.stop();
  EXPECT_EQ(ing.snapshot().state, link_state::stopped);
}

// Holds the writer inside its first on_committed until released, so the test decides
// when the ingest is stopped relative to what it has committed.
class gated_listener : public recording_listener {
 public:
  void on_committed(const notification_batch& added) override {
    recording_listener::on_committed(added);
    std::unique_lock lk(mu_);
    if (first_) {
      first_ = false;
      entered_.set_value();
      cv_.wait(lk, [&] { return released_; });
    }
  }
  void wait_entered() { entered_.get_future().wait(); }
  void release() {
    std::lock_guard lk(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool first_ = true, released_ = false;
  std::promise<void> entered_;
};

TEST_F(StreamIngest, DestroyedMidStreamThenRestartedStoresEveryEntryOnceInOrder) {
  auto ids = add(3000);
  auto opt = test_options(db(), redis_->url(), &log_);
  opt.batch = 20;
  opt.queue_bytes = 1;  // one batch in the queue: the reader waits on the gated writer
  {
    gated_listener l;
    auto ing = std::make_unique<ingest>(opt, l);
    ASSERT_TRUE(ing->start().ok());
    l.wait_entered();
    std::thread destroyer([&] { ing.reset(); });
    l.release();
    destroyer.join();
  }
  auto first_run = stored_rows(db());
  ASSERT_GT(first_run.size(), 0u);
  ASSERT_LT(first_run.size(), ids.size()) << "the first ingest should have been stopped mid-stream";
  EXPECT_EQ(stored_offset(db(), kDefaultStream), first_run.back().id);

  auto more = add(500, 3000);
  ids.insert(ids.end(), more.begin(), more.end());
  recording_listener l2;
  ingest again(opt, l2);
  ASSERT_TRUE(again.start().ok());
  ASSERT_TRUE(l2.wait_for_count(ids.size() - first_run.size()));
  EXPECT_EQ(stored_rows(db()), expected_rows(ids));
  auto s = again.snapshot();
  EXPECT_EQ(s.duplicates, 0u) << "the restart must resume after the committed offset, not before";
  EXPECT_EQ(s.entries_committed, ids.size() - first_run.size());
  EXPECT_EQ(l2.all().front()->id.str(), ids[first_run.size()]);
}

class StreamIngestDurableRedis : public StreamIngest {
 protected:
  void SetUp() override {
    redis_options o;
    o.appendonly = true;
    o.appendfsync = "always";
    start_redis(o);
  }
};

TEST_F(StreamIngestDurableRedis, RedisKilledAndRestartedMidStreamLosesNothing) {
  auto ids = add(400);
  auto opt = test_options(db(), redis_->url(), &log_);
  opt.batch = 25;
  opt.queue_bytes = 1;  // the reader stays mid-stream while the writer is gated
  gated_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  l.wait_entered();  // the writer holds batch 1; the reader is mid-stream
  redis_->kill();
  l.release();
  ASSERT_TRUE(log_.wait_for("lost connection"));
  redis_->restart();
  reconnect_client();
  auto more = add(300, 400);
  ids.insert(ids.end(), more.begin(), more.end());
  ASSERT_TRUE(l.wait_for_count(ids.size())) << log_.text();
  EXPECT_EQ(stored_rows(db()), expected_rows(ids));
  auto s = ing.snapshot();
  EXPECT_EQ(s.duplicates, 0u);
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_EQ(s.state, link_state::connected);
  EXPECT_EQ(log_.count("lost connection"), 1u) << "one line per state change, not per attempt:\n"
                                               << log_.text();
  EXPECT_EQ(log_.count("reconnected to"), 1u) << log_.text();
}

TEST_F(StreamIngest, ClientKillOfTheIngestConnectionResumes) {
  auto ids = add(10);
  recording_listener l;
  ingest ing(test_options(db(), redis_->url(), &log_), l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(10));
  auto killed = client().command({"CLIENT", "KILL", "TYPE", "normal"});
  ASSERT_EQ(killed->type, REDIS_REPLY_INTEGER);
  ASSERT_GE(killed->integer, 1);
  ASSERT_TRUE(log_.wait_for("reconnected to")) << log_.text();
  auto more = add(10, 10);
  ids.insert(ids.end(), more.begin(), more.end());
  ASSERT_TRUE(l.wait_for_count(20));
  EXPECT_EQ(stored_rows(db()), expected_rows(ids));
  EXPECT_GE(ing.snapshot().reconnects, 1u);
  EXPECT_EQ(ing.snapshot().duplicates, 0u);
}

TEST_F(StreamIngest, BadEntriesGoToDeadLettersAndGoodOnesAfterThemAreStored) {
  auto x = [&](std::vector<std::pair<std::string, std::string>> fields) {
    return client().xadd(kDefaultStream, fields);
  };
  std::string good1 = x(entry("user:1", "{\"ok\": 1}"));
  struct bad {
    std::string id, reason;
  };
  std::vector<bad> bads;
  bads.push_back({x({{"data", "{}"}}), "missing field 'topic'"});
  bads.push_back({x({{"topic", "user:1"}}), "missing field 'data'"});
  bads.push_back({x(entry("user:1", "{bad")), "data is not JSON"});
  bads.push_back(
      {x(entry("user:1", "\"" + std::string(100, 'x') + "\"")), "over --max-payload 64"});
  bads.push_back({x({{"topic", "user:1"}, {"type", "a\x01z"}, {"data", "1"}}),
                  "type contains control characters"});
  bads.push_back({x(entry("user:\xff\xfe", "1")), "topic is not valid UTF-8"});
  bads.push_back({x({{"topic", "user:1"}, {"topic", "user:2"}, {"data", "1"}}),
                  "field 'topic' appears more than once"});
  bads.push_back({x({{"topic", "user:1"}, {"data", "1"}, {"key", ""}}), "empty idempotency key"});
  bads.push_back({x({{"topic", ""}, {"data", "1"}}), "empty topic"});
  std::string good2 = x(entry("user:2", "[1, 2]", "after.bad"));

  auto opt = test_options(db(), redis_->url(), &log_);
  opt.limits.max_payload = 64;
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(2));
  EXPECT_EQ(stored_rows(db()), (std::vector<row>{{good1, "user:1", "", "{\"ok\":1}"},
                                                 {good2, "user:2", "after.bad", "[1,2]"}}));
  auto dead = dead_rows(db());
  ASSERT_EQ(dead.size(), bads.size());
  for (std::size_t i = 0; i < bads.size(); ++i) {
    EXPECT_EQ(dead[i].source, kDefaultStream);
    EXPECT_EQ(dead[i].entry_id, bads[i].id);
    EXPECT_NE(dead[i].reason.find(bads[i].reason), std::string::npos)
        << dead[i].reason << " vs " << bads[i].reason;
  }
  EXPECT_EQ(dead[0].raw, "{\"data\":\"{}\"}");
  EXPECT_EQ(dead[5].raw, "{\"topic\":\"user:\xEF\xBF\xBD\xEF\xBF\xBD\",\"data\":\"1\"}");
  auto s = ing.snapshot();
  EXPECT_EQ(s.dead_letters, bads.size());
  // The dashboard keeps the last few (bounded), newest last, with source, id and reason.
  ASSERT_GE(bads.size(), kRecentEvents);
  ASSERT_EQ(s.recent_dead_letters.size(), kRecentEvents);
  const auto& newest = s.recent_dead_letters.back().what;
  EXPECT_EQ(newest.rfind(std::string(kDefaultStream) + " " + bads.back().id + ": ", 0), 0u)
      << newest;
  EXPECT_NE(newest.find(bads.back().reason), std::string::npos) << newest;
  EXPECT_EQ(s.entries_committed, 2u);
  EXPECT_EQ(stored_offset(db(), kDefaultStream), good2);
  // One batch, one line: the flood is summarised, not logged per entry.
  EXPECT_EQ(log_.count("dead letter from"), 1u) << log_.text();
  EXPECT_TRUE(log_.wait_for("and " + std::to_string(bads.size() - 1) + " more in this batch"));
}

TEST_F(StreamIngest, SeveralStreamsMergeInIdOrderAndUnstorableIdsAreDeadLettered) {
  const std::string s2 = "other:stream";
  client().command({"XADD", s2, "1-1", "topic", "a", "data", "1"});
  client().command({"XADD", s2, "2-0", "topic", "a", "data", "2"});
  client().command({"XADD", s2, "3-9223372036854775807", "topic", "a", "data", "3"});
  // Past 2248 is stored (DESIGN §2); past 64-bit legacyIds (ms >= 2^54) cannot be.
  client().command({"XADD", s2, "9000000000000-0", "topic", "a", "data", "4"});
  client().command({"XADD", s2, "18014398509481984-0", "topic", "a", "data", "5"});
  auto main_ids = add(2);
  auto opt = test_options(db(), redis_->url(), &log_);
  opt.streams = {kDefaultStream, s2};
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(5));
  // Two streams: stream i stores <ms>-<seq*2+i> (DESIGN §11, the id rule of several streams).
  auto scaled = [](const std::string& raw, int i) {
    auto dash = raw.find('-');
    return raw.substr(0, dash + 1) + std::to_string(std::stoull(raw.substr(dash + 1)) * 2 + i);
  };
  auto rows = stored_rows(db());
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0], (row{"1-3", "a", "", "1"}));
  EXPECT_EQ(rows[1], (row{"2-1", "a", "", "2"}));
  EXPECT_EQ(rows[2].id, scaled(main_ids[0], 0));
  EXPECT_EQ(rows[3].id, scaled(main_ids[1], 0));
  EXPECT_EQ(rows[4], (row{"9000000000000-1", "a", "", "4"}));
  auto got = l.all();
  for (std::size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1]->id, got[i]->id);
  auto dead = dead_rows(db());
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].entry_id, "3-9223372036854775807");
  EXPECT_EQ(dead[1].entry_id, "18014398509481984-0");
  EXPECT_NE(dead[1].reason.find("cannot be stored"), std::string::npos);
  EXPECT_EQ(stored_offset(db(), s2), "18014398509481984-0");
  EXPECT_EQ(stored_offset(db(), kDefaultStream), main_ids[1]);
  EXPECT_EQ(ing.snapshot().ids_ahead, 1u);
}

TEST_F(StreamIngest, IdempotencyKeyStoresOnce) {
  std::string a =
      client().xadd(kDefaultStream, {{"topic", "user:1"}, {"data", "1"}, {"key", "k1"}});
  client().xadd(kDefaultStream, {{"topic", "user:1"}, {"data", "2"}, {"key", "k1"}});
  std::string c =
      client().xadd(kDefaultStream, {{"topic", "user:1"}, {"data", "3"}, {"key", "k2"}});
  recording_listener l;
  ingest ing(test_options(db(), redis_->url(), &log_), l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(2));
  EXPECT_EQ(stored_rows(db()), (std::vector<row>{{a, "user:1", "", "1"}, {c, "user:1", "", "3"}}));
  EXPECT_EQ(ing.snapshot().duplicates, 1u);
  EXPECT_EQ(ing.snapshot().entries_committed, 2u);
}

TEST_F(StreamIngest, StreamStartDollarSkipsTheBacklogAndRestartsResumeExactly) {
  add(3);  // backlog that "$" must not store
  auto opt = test_options(db(), redis_->url(), &log_);
  opt.stream_start = "$";
  {
    recording_listener l;
    ingest ing(opt, l);
    ASSERT_TRUE(ing.start().ok());
    ASSERT_TRUE(log_.wait_for("stream_start $ is"));
  }
  // Added while stopped: a restart resumes from the resolved end, not from a new "$".
  auto while_down = add(2, 3);
  {
    recording_listener l;
    ingest ing(opt, l);
    ASSERT_TRUE(ing.start().ok());
    ASSERT_TRUE(l.wait_for_count(2));
    auto live = add(1, 5);
    ASSERT_TRUE(l.wait_for_count(3));
    while_down.push_back(live[0]);
  }
  EXPECT_EQ(stored_rows(db()), expected_rows(while_down, 3));
  EXPECT_EQ(log_.count("stream_start $ is"), 1u);
}

TEST_F(StreamIngest, ExplicitStreamStartId) {
  auto ids = add(4);
  auto opt = test_options(db(), redis_->url(), &log_);
  opt.stream_start = ids[1];
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(2));
  EXPECT_EQ(stored_rows(db()), expected_rows({ids[2], ids[3]}, 2));
}

TEST_F(StreamIngest, TwoStoresOfOneStreamGetIdenticalIdsAndOrder) {
  auto ids = add(300);
  temp_dir other;
  auto opt_a = test_options(db(), redis_->url());
  auto opt_b = test_options(other.file("b.db"), redis_->url());
  opt_a.batch = 7;  // different batching must not change ids or order
  opt_b.batch = 100;
  opt_a.log = opt_b.log = [](std::string_view) {};
  recording_listener la, lb;
  ingest a(opt_a, la), b(opt_b, lb);
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(b.start().ok());
  auto more = add(200, 300);
  ids.insert(ids.end(), more.begin(), more.end());
  ASSERT_TRUE(la.wait_for_count(500));
  ASSERT_TRUE(lb.wait_for_count(500));
  auto rows_a = stored_rows(opt_a.db_path);
  EXPECT_EQ(rows_a, expected_rows(ids));
  EXPECT_EQ(rows_a, stored_rows(opt_b.db_path));
  auto na = la.all(), nb = lb.all();
  ASSERT_EQ(na.size(), nb.size());
  for (std::size_t i = 0; i < na.size(); ++i) EXPECT_EQ(na[i]->id, nb[i]->id);
}

TEST_F(StreamIngest, WrongTypeKeyBacksOffLogsOnceAndRecoversWhenFixed) {
  client().command({"SET", kDefaultStream, "not a stream"});
  recording_listener l;
  ingest ing(test_options(db(), redis_->url(), &log_), l);
  ASSERT_TRUE(ing.start().ok());
  auto line = log_.wait_for("WRONGTYPE");
  ASSERT_TRUE(line) << log_.text();
  EXPECT_NE(line->find("holds a string, not a stream"), std::string::npos) << *line;
  EXPECT_EQ(ing.snapshot().state, link_state::backing_off);
  EXPECT_NE(ing.snapshot().last_error.find("WRONGTYPE"), std::string::npos);
  // Several retries happen while the key is wrong (watched with MONITOR); still one line.
  auto monitor =
      testing::subprocess::spawn({"redis-cli", "-p", std::to_string(redis_->port()), "monitor"});
  ASSERT_TRUE(monitor->wait_for_line("OK", kWait));
  std::size_t from = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(monitor->wait_for_line("\"XREAD\"", kWait, from));
    from = monitor->line_count();
  }
  client().command({"DEL", kDefaultStream});
  auto ids = add(1);
  ASSERT_TRUE(l.wait_for_count(1)) << log_.text();
  EXPECT_EQ(stored_rows(db()), expected_rows(ids));
  EXPECT_TRUE(log_.wait_for("stream reads recovered"));
  EXPECT_EQ(log_.count("WRONGTYPE"), 1u) << log_.text();
  EXPECT_EQ(ing.snapshot().state, link_state::connected);
}

TEST_F(StreamIngest, StopIsPromptWhileXreadBlocks) {
  auto opt = test_options(db(), redis_->url(), &log_);
  opt.block = std::chrono::seconds(20);
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(log_.wait_for("connected to"));
  auto ids = add(1);
  ASSERT_TRUE(l.wait_for_count(1));  // the reader is back in a 20 s XREAD BLOCK now
  auto t0 = std::chrono::steady_clock::now();
  ing.stop();
  // A stop that waited for the BLOCK to run out would take up to 20 s; a prompt one takes
  // milliseconds. 10 s separates the two on any load.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  ing.stop();  // idempotent
}

TEST_F(StreamIngest, FailedCommitIsRereadFromTheCommittedOffset) {
  auto ids = add(10);
  recording_listener l;
  ingest ing(test_options(db(), redis_->url(), &log_), l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(10));
  {
    // Another connection holds the write lock: every commit fails (SQLITE_BUSY) meanwhile.
    auto blocker = store::sql::open(db(), store::sql::open_mode::existing);
    ASSERT_TRUE(blocker.ok());
    ASSERT_TRUE(store::sql::exec(blocker->get(), "BEGIN IMMEDIATE", "lock").ok());
    auto more = add(10, 10);
    ids.insert(ids.end(), more.begin(), more.end());
    ASSERT_TRUE(log_.wait_for("commit failed")) << log_.text();
    auto more2 = add(5, 20);
    ids.insert(ids.end(), more2.begin(), more2.end());
    ASSERT_TRUE(store::sql::exec(blocker->get(), "ROLLBACK", "unlock").ok());
  }
  ASSERT_TRUE(l.wait_for_count(25)) << log_.text();
  EXPECT_EQ(stored_rows(db()), expected_rows(ids));
  auto s = ing.snapshot();
  EXPECT_GE(s.commit_failures, 1u);
  EXPECT_EQ(s.duplicates, 0u);
  EXPECT_EQ(s.entries_committed, 25u);
  EXPECT_TRUE(log_.wait_for("commits recovered"));
  EXPECT_EQ(log_.count("commit failed"), 1u) << log_.text();
}

TEST_F(StreamIngest, RetentionPrunesInChunksAndReportsMarks) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(client().xadd(kDefaultStream, entry("user:9", std::to_string(i))));
  auto opt = test_options(db(), redis_->url(), &log_);
  opt.retention.max_per_topic = 2;
  opt.retention.chunk = 2;
  opt.prune_interval = 20ms;
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(5));
  // Chunks of 2: the mark reaches the third entry (the last one over the limit) in two steps.
  ASSERT_TRUE(l.wait_for_mark("user:9", ids[2])) << log_.text();
  ing.stop();
  EXPECT_EQ(l.pruned()["user:9"].str(), ids[2]);
  auto rows = stored_rows(db());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, ids[3]);
  EXPECT_EQ(rows[1].id, ids[4]);
}

TEST_F(StreamIngest, WalCheckpointsKeepTheWalSmallDuringABacklog) {
  // ~9 MB of entries; SQLite's own autocheckpoint would let the WAL reach 4 MB (1000 pages).
  std::string big(1000, 'x');
  std::vector<std::vector<std::string>> cmds;
  for (int i = 0; i < 9000; ++i)
    cmds.push_back({"XADD", kDefaultStream, "*", "topic", "user:" + std::to_string(i % 50), "data",
                    "\"" + big + std::to_string(i) + "\""});
  client().pipeline(cmds);
  auto opt = test_options(db(), redis_->url(), &log_);
  opt.max_commit_entries = 200;
  opt.wal_checkpoint_pages = 50;
  opt.wal_inline_checkpoint_pages = 300;
  recording_listener l;
  ingest ing(opt, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(9000));
  auto wal = std::filesystem::file_size(db() + "-wal");
  EXPECT_LT(wal, 2u << 20) << "WAL grew to " << wal << " bytes";
  EXPECT_GT(std::filesystem::file_size(db()), 8u << 20) << "pages were copied back while ingesting";
}

TEST_F(StreamIngest, StartFailsClearlyOnBadOptions) {
  recording_listener l;
  {
    auto o = test_options("/nonexistent-dir/x/store.db", redis_->url());
    ingest ing(o, l);
    auto st = ing.start();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message.find("cannot open store"), std::string::npos) << st.err().message;
  }
  {
    auto o = test_options(db(), "http://nope");
    ingest ing(o, l);
    ASSERT_FALSE(ing.start().ok());
  }
  {
    auto o = test_options(db(), redis_->url());
    o.stream_start = "yesterday";
    ingest ing(o, l);
    auto st = ing.start();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message.find("stream_start"), std::string::npos);
  }
  {
    auto o = test_options(db(), redis_->url());
    o.streams.clear();
    ingest ing(o, l);
    ASSERT_FALSE(ing.start().ok());
  }
}

class StreamIngestAuth : public StreamIngest {
 protected:
  void SetUp() override {
    redis_options o;
    o.extra_args = {"--requirepass",         "hunter2zz",        "--unixsocket",
                    dir_.file("redis.sock"), "--unixsocketperm", "700"};
    redis_ = std::make_unique<redis_server>(o);
    client_ = std::make_unique<redis_client>(redis_->port());
    auto r = client().command({"AUTH", "hunter2zz"});
    ASSERT_EQ(r->type, REDIS_REPLY_STATUS);
  }
};

TEST_F(StreamIngestAuth, PasswordUserAndDatabaseInTheUrl) {
  auto ids = add(2);
  const std::string port = std::to_string(redis_->port());
  for (std::string url : {"redis://:hunter2zz@127.0.0.1:" + port,
                          "redis://default:hunter2zz@127.0.0.1:" + port + "/0"}) {
    temp_dir d;
    recording_listener l;
    auto o = test_options(d.file("a.db"), url, &log_);
    ingest ing(o, l);
    ASSERT_TRUE(ing.start().ok());
    ASSERT_TRUE(l.wait_for_count(2)) << url << "\n" << log_.text();
    EXPECT_EQ(stored_rows(o.db_path), expected_rows(ids)) << url;
  }
  // Database 3 over the unix socket: only what is in db 3 is read.
  client().command({"SELECT", "3"});
  auto in3 = add(1, 7);
  recording_listener l;
  temp_dir d;
  auto o =
      test_options(d.file("u.db"), "unix://:hunter2zz@" + dir_.file("redis.sock") + "?db=3", &log_);
  ingest ing(o, l);
  ASSERT_TRUE(ing.start().ok());
  ASSERT_TRUE(l.wait_for_count(1)) << log_.text();
  EXPECT_EQ(stored_rows(o.db_path), expected_rows(in3, 7));
}

TEST_F(StreamIngestAuth, WrongPasswordBacksOffWithAClearLine) {
  recording_listener l;
  ingest ing(
      test_options(db(), "redis://:notthepass@127.0.0.1:" + std::to_string(redis_->port()), &log_),
      l);
  ASSERT_TRUE(ing.start().ok());
  auto line = log_.wait_for("AUTH refused");
  ASSERT_TRUE(line) << log_.text();
  EXPECT_EQ(line->find("notthepass"), std::string::npos) << "never log the password: " << *line;
  EXPECT_EQ(ing.snapshot().state, link_state::backing_off);
}

}  // namespace
}  // namespace cutover::ingest::test
