// --redis-read (DESIGN §11): ingest reads the streams from a replica while the master stays
// the judge of losses. Against real redis-servers: a master and two replicas, one of which is
// cut off from the master (it keeps its data and stays read-only, so it falls behind).

#include <gtest/gtest.h>

#include "ingest_fixtures.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_options;
using testing::redis_server;
using testing::temp_dir;

const std::string kS = kDefaultStream;

std::unique_ptr<redis_server> replica_of(const redis_server& master) {
  redis_options o;
  o.extra_args = {"--replicaof", "127.0.0.1", std::to_string(master.port())};
  auto r = std::make_unique<redis_server>(o);
  EXPECT_TRUE(r->process().wait_for_line("sync: Finished with success", std::chrono::seconds(20)))
      << r->process().output();
  return r;
}

// A master that serves a replica's full sync at once (Redis 7 waits 5 s by default).
std::unique_ptr<redis_server> master_server() {
  redis_options o;
  o.extra_args = {"--repl-diskless-sync-delay", "0"};
  return std::make_unique<redis_server>(o);
}

void publish(redis_client& master, int from, int to, int replicas) {
  for (int k = from; k <= to; ++k) master.xadd(kS, entry("all", std::to_string(k)));
  // Both replicas that should have them do (WAIT: the replication offset, not a poll).
  auto w = master.command({"WAIT", std::to_string(replicas), "5000"});
  ASSERT_EQ(w->type, REDIS_REPLY_INTEGER);
  ASSERT_GE(w->integer, replicas);
}

TEST(RedisRead, IngestReadsAReplicaAndALaggingReplicaIsNotALoss) {
  auto owner = master_server();
  redis_server& master = *owner;
  auto fresh = replica_of(master);
  auto behind = replica_of(master);
  redis_client m(master.port());
  publish(m, 1, 10, 2);
  // Cut off: keeps entries 1..10, stays a read-only replica, gets nothing more.
  redis_client(behind->port())
      .command({"REPLICAOF", "127.0.0.1", std::to_string(testing::free_port())});
  publish(m, 11, 20, 1);

  temp_dir dir;
  const std::string db = dir.file("a.db");
  {
    log_capture log;
    auto o = test_options(db, master.url(), &log);
    o.redis_read_url = fresh->url();
    recording_listener l;
    ingest a(o, l);
    ASSERT_TRUE(a.start().ok());
    ASSERT_TRUE(l.wait_for_count(20)) << log.text();
    auto line = log.wait_for("connected to " + fresh->url());
    ASSERT_TRUE(line) << log.text();
    EXPECT_NE(line->find("reading; the master is " + master.url()), std::string::npos) << *line;
  }
  // The same store now reads the replica that is behind its offset (20 entries stored, the
  // replica has 10): lag, not a loss, because the master holds the offset unchanged.
  log_capture log;
  auto o = test_options(db, master.url(), &log);
  o.redis_read_url = behind->url();
  recording_listener l;
  ingest a(o, l);
  ASSERT_TRUE(a.start().ok());
  auto line = log.wait_for("is behind this store's offset");
  ASSERT_TRUE(line) << log.text();
  EXPECT_EQ(a.snapshot().rewinds, 0u);
  EXPECT_EQ(log.count("moved to orphans"), 0u) << log.text();
  // Reconnected to the master, the replica catches up and ingest goes on from the offset.
  redis_client(behind->port()).command({"REPLICAOF", "127.0.0.1", std::to_string(master.port())});
  publish(m, 21, 21, 2);
  ASSERT_TRUE(l.wait_for_count(1)) << log.text();
  auto got = l.all();
  EXPECT_EQ(got[0]->data, "21");
  auto rows = stored_rows(db);
  ASSERT_EQ(rows.size(), 21u);
  for (std::size_t k = 0; k < rows.size(); ++k) EXPECT_EQ(rows[k].data, std::to_string(k + 1));
  EXPECT_EQ(a.snapshot().rewinds, 0u);
  EXPECT_EQ(a.snapshot().orphaned, 0u);
}

TEST(RedisRead, ALossOnTheMasterIsStillFoundWhileReadingAReplica) {
  auto owner = master_server();
  redis_server& master = *owner;
  auto replica = replica_of(master);
  redis_client m(master.port());
  for (int k = 1; k <= 10; ++k)
    m.command({"XADD", kS, std::to_string(k) + "-0", "topic", "all", "data", std::to_string(k)});
  m.command({"WAIT", "1", "5000"});
  temp_dir dir;
  log_capture log;
  auto o = test_options(dir.file("a.db"), master.url(), &log);
  o.redis_read_url = replica->url();
  check_waiter checks;
  o.on_loss_check = checks.hook();
  recording_listener l;
  ingest a(o, l);
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(l.wait_for_count(10)) << log.text();
  ASSERT_TRUE(checks.wait_agreed(kS, "10-0")) << log.text();  // judged on the master
  // The stream replaced on the master (the replica follows): 6-0..10-0 are lost.
  m.command({"MULTI"});
  m.command({"DEL", kS});
  for (int k = 1; k <= 5; ++k)
    m.command({"XADD", kS, std::to_string(k) + "-0", "topic", "all", "data", std::to_string(k)});
  m.command({"XADD", kS, "12-0", "topic", "all", "data", "\"x12\""});
  m.command({"EXEC"});
  auto line = log.wait_for("moved to orphans");
  ASSERT_TRUE(line) << log.text();
  EXPECT_NE(line->find("5 stored entries after 5-0 through 10-0"), std::string::npos) << *line;
  ASSERT_TRUE(l.wait_for_count(11)) << log.text();
  EXPECT_EQ(a.snapshot().rewinds, 1u);
}

}  // namespace
}  // namespace cutover::ingest::test
