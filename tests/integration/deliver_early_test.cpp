// Delivery before the commit (DESIGN §1, §11), end to end: a real redis-server, the real
// binary on 127.0.0.1:0, raw WebSocket clients. The store's write lock is held by another
// SQLite connection (BEGIN IMMEDIATE on the store file), so entries are delivered while their
// commit cannot happen; then the instance is killed (SIGKILL) or Redis loses what was
// delivered, and the tests assert what each client is told.

#include <gtest/gtest.h>
#include <signal.h>

#include <optional>
#include <string>
#include <vector>

#include "cutover_proc.hpp"
#include "store/sqlite.hpp"

namespace cutover {
namespace {
using namespace std::chrono_literals;
using testing::cutover_server;
using testing::json_field;
using testing::raw_ws;
using testing::redis_client;
using testing::redis_server;
using testing::temp_dir;

const std::string kStream = "cutover:notifications";

// Another connection holding the store's write lock, as a backup tool or a stuck writer
// would: this instance's commits wait (and fail after the busy timeout) until release().
class write_lock {
 public:
  explicit write_lock(const std::string& db) {
    auto h = store::sql::open(db, store::sql::open_mode::existing);
    if (!h) throw std::runtime_error("open " + db + ": " + h.err().message);
    db_.emplace(std::move(*h));
    if (auto st = store::sql::exec(db_->get(), "BEGIN IMMEDIATE", "hold the write lock"); !st)
      throw std::runtime_error(st.err().message);
  }
  ~write_lock() { release(); }
  void release() {
    if (db_) (void)store::sql::exec(db_->get(), "ROLLBACK", "release the write lock");
    db_.reset();
  }

 private:
  std::optional<store::sql::db_handle> db_;
};

std::vector<std::string> stored_ids(const std::string& db) {
  std::vector<std::string> out;
  auto h = store::sql::open(db, store::sql::open_mode::existing);
  if (!h) return out;
  auto s = store::sql::statement::prepare(h->get(),
                                          "SELECT ms, seq FROM notifications ORDER BY ms, seq");
  while (s && s->step() == SQLITE_ROW)
    out.push_back(std::to_string(s->int64(0)) + "-" + std::to_string(s->int64(1)));
  return out;
}

std::vector<std::string> lost_ranges(const std::string& db) {
  std::vector<std::string> out;
  auto h = store::sql::open(db, store::sql::open_mode::existing);
  if (!h) return out;
  auto s = store::sql::statement::prepare(
      h->get(),
      "SELECT kind, after_ms, after_seq, through_ms, through_seq FROM lost_ranges ORDER BY id");
  while (s && s->step() == SQLITE_ROW)
    out.push_back(std::string(s->text(0)) + " " + std::to_string(s->int64(1)) + "-" +
                  std::to_string(s->int64(2)) + ".." + std::to_string(s->int64(3)) + "-" +
                  std::to_string(s->int64(4)));
  return out;
}

class DeliverEarly : public ::testing::Test {
 protected:
  std::string db() const { return dir_.file("store.db"); }
  void start(std::vector<std::string> extra = {}) {
    // Explicit small ids are from 1970: no age retention, or a restart would prune them.
    std::vector<std::string> flags = {"--auth", "insecure-query", "--shared-topic",
                                      "all",    "--retain-age",   "0"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    srv_ = std::make_unique<cutover_server>(redis_, flags, db());
  }
  std::string publish(const std::string& data, const std::string& id = "*") {
    auto r = pub_.command({"XADD", kStream, id, "topic", "all", "type", "t", "data", data});
    if (!r || r->type != 1 /* REDIS_REPLY_STRING */)
      throw std::runtime_error("XADD " + id + " failed");
    return std::string(r->str, r->len);
  }
  void committed(double n) {
    ASSERT_TRUE(srv_->wait_metric_at_least("cutover_ingest_entries_total", n)) << n;
  }
  // The next data frame's id (skipping nothing: a reset or anything else fails the test).
  static std::string next_id(raw_ws& ws, std::chrono::milliseconds within = 10s) {
    auto f = ws.next_text(within);
    if (!f) return "(nothing)";
    if (json_field(*f, "type") == "reset") return "reset " + json_field(*f, "oldest");
    return json_field(*f, "id");
  }

  temp_dir dir_;
  redis_server redis_;
  redis_client pub_{redis_.port()};
  std::unique_ptr<cutover_server> srv_;
};

// DESIGN §1: an entry delivered while this instance's commit could not happen is re-read
// with the same id after a SIGKILL (the offset commits with the entries), and a client
// that reconnects to the restarted instance with the cursor it was given gets everything
// after it exactly once.
TEST_F(DeliverEarly, AClientReconnectsAfterACrashBetweenDeliveryAndCommitWithItsCursor) {
  start();
  std::vector<std::string> ids;
  for (int i = 1; i <= 3; ++i) ids.push_back(publish(std::to_string(i)));
  committed(3);
  raw_ws ws(srv_->port(), "/v1/ws?user=1&since=" + ids[2]);
  ASSERT_EQ(json_field(*ws.next_text(), "type"), "hello");
  std::string cursor;
  {
    write_lock held(db());
    ids.push_back(publish("4"));
    ids.push_back(publish("5"));
    // Delivered while the commit waits on the lock.
    EXPECT_EQ(next_id(ws), ids[3]);
    EXPECT_EQ(next_id(ws), ids[4]);
    cursor = ids[4];
    EXPECT_EQ(stored_ids(db()), (std::vector<std::string>{ids[0], ids[1], ids[2]}));
    srv_->process().signal(SIGKILL);
    ASSERT_TRUE(srv_->process().wait_exit(10s));
  }  // released only after the kill: nothing of 4 and 5 was committed
  EXPECT_EQ(stored_ids(db()), (std::vector<std::string>{ids[0], ids[1], ids[2]}));
  srv_.reset();
  start();
  ids.push_back(publish("6"));
  ids.push_back(publish("7"));
  committed(4);  // 4, 5 again from Redis (same ids), then 6 and 7
  raw_ws again(srv_->port(), "/v1/ws?user=1&since=" + cursor);
  ASSERT_EQ(json_field(*again.next_text(), "type"), "hello");
  EXPECT_EQ(next_id(again), ids[5]);
  EXPECT_EQ(next_id(again), ids[6]);
  EXPECT_EQ(next_id(again, 500ms), "(nothing)");  // no repeat
  // A client that had only the committed entries gets the re-read ones once, in order.
  raw_ws older(srv_->port(), "/v1/ws?user=2&since=" + ids[2]);
  ASSERT_EQ(json_field(*older.next_text(), "type"), "hello");
  for (int i = 3; i < 7; ++i) EXPECT_EQ(next_id(older), ids[static_cast<std::size_t>(i)]);
  EXPECT_EQ(stored_ids(db()), ids);
}

// DESIGN §2: a cursor ahead of this instance's newest entry waits (no reset, no older entry)
// and is answered from there once the instance catches up.
TEST_F(DeliverEarly, ACursorAheadOfTheStoreWaits) {
  publish("1", "1000-0");
  publish("2", "2000-0");
  start();
  committed(2);
  raw_ws ws(srv_->port(), "/v1/ws?user=1&since=5000-0");
  ASSERT_EQ(json_field(*ws.next_text(), "type"), "hello");
  EXPECT_EQ(next_id(ws, 300ms), "(nothing)");
  publish("3", "4000-0");
  publish("4", "6000-0");
  EXPECT_EQ(next_id(ws), "6000-0");  // not 4000-0, and no reset before it
}

// DESIGN §3 with §11: Redis loses entries that were delivered but not committed (the stream
// is replaced by what a promoted replica would hold: the committed entries and one of the
// delivered ones) while the commit is held. The client that has entries above the last
// agreed entry A gets the reset with oldest = the id after A, then what Redis holds after
// A; a client reconnecting with a cursor in the withdrawn range gets the same; the range is
// recorded, and the store ends with exactly what Redis holds.
TEST_F(DeliverEarly, ALossyFailoverWhileACommitIsHeldResetsClientsWithWithdrawnEntries) {
  for (int i = 1; i <= 3; ++i) publish(std::to_string(i), std::to_string(i) + "-0");
  start();
  committed(3);
  raw_ws ws(srv_->port(), "/v1/ws?user=1&since=3-0");
  ASSERT_EQ(json_field(*ws.next_text(), "type"), "hello");
  {
    write_lock held(db());
    for (int i = 4; i <= 6; ++i) publish(std::to_string(i), std::to_string(i) + "-0");
    EXPECT_EQ(next_id(ws), "4-0");
    EXPECT_EQ(next_id(ws), "5-0");
    EXPECT_EQ(next_id(ws), "6-0");
    // The failover: the new master has 1..4 (4 replicated in time), not 5 and 6.
    // One atomic step, so no loss check sees the stream half rebuilt.
    pub_.command({"EVAL",
                  "redis.call('DEL', KEYS[1]) for i = 1, 4 do redis.call('XADD', KEYS[1], i .. "
                  "'-0', 'topic', 'all', 'type', 't', 'data', tostring(i)) end return 1",
                  "1", kStream});
    // Told while the commit is still held: the entries after 4-0 it was sent are gone.
    EXPECT_EQ(next_id(ws), "reset 4-1");
    publish("7", "7-0");
    EXPECT_EQ(next_id(ws), "7-0");  // not 5-0 or 6-0 again
    // A client back with a cursor in the withdrawn range: the reset, then after 4-0.
    raw_ws back(srv_->port(), "/v1/ws?user=3&since=6-0");
    ASSERT_EQ(json_field(*back.next_text(), "type"), "hello");
    EXPECT_EQ(next_id(back), "reset 4-1");
    EXPECT_EQ(next_id(back), "7-0");
    // At the last agreed entry itself: nothing was withdrawn from it, no reset.
    raw_ws at_a(srv_->port(), "/v1/ws?user=4&since=4-0");
    ASSERT_EQ(json_field(*at_a.next_text(), "type"), "hello");
    EXPECT_EQ(next_id(at_a), "7-0");
    EXPECT_EQ(stored_ids(db()), (std::vector<std::string>{"1-0", "2-0", "3-0"}));
  }
  committed(5);  // 4-0 and 7-0 once the lock is released
  EXPECT_EQ(stored_ids(db()), (std::vector<std::string>{"1-0", "2-0", "3-0", "4-0", "7-0"}));
  EXPECT_EQ(lost_ranges(db()), (std::vector<std::string>{"withdrawn 4-0..6-0"}));
  // The client that had entries up to 6-0 got 4, 5, 6, the reset, and 7: nothing else.
  EXPECT_EQ(next_id(ws, 500ms), "(nothing)");
  // After a restart the recorded range still resets such a cursor.
  srv_.reset();
  start();
  raw_ws later(srv_->port(), "/v1/ws?user=4&since=5-0");
  ASSERT_EQ(json_field(*later.next_text(), "type"), "hello");
  EXPECT_EQ(next_id(later), "reset 4-1");
  EXPECT_EQ(next_id(later), "7-0");
}

// --deliver-after-commit keeps the old path: nothing reaches a client while the commit waits.
TEST_F(DeliverEarly, DeliverAfterCommitWaitsForTheCommit) {
  start({"--deliver-after-commit"});
  publish("1");
  committed(1);
  raw_ws ws(srv_->port(), "/v1/ws?user=1");
  ASSERT_EQ(json_field(*ws.next_text(), "type"), "hello");
  std::string id;
  {
    write_lock held(db());
    id = publish("2");
    EXPECT_EQ(next_id(ws, 1s), "(nothing)");
  }
  EXPECT_EQ(next_id(ws), id);
}

}  // namespace
}  // namespace cutover
