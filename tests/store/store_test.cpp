#include "store/store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "store/importer.hpp"
#include "store_fixtures.hpp"

namespace cutover::store {
namespace {
using testing::temp_dir;
using unit::entry;

std::vector<std::string> ids(const notification_batch& b) {
  std::vector<std::string> out;
  for (const auto& n : b) out.push_back(n->id.str());
  return out;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = writer::open(dir_.file("s.db"));
    ASSERT_TRUE(w) << w.err().message;
    writer_.emplace(std::move(*w));
    auto r = reader::open(dir_.file("s.db"));
    ASSERT_TRUE(r) << r.err().message;
    reader_.emplace(std::move(*r));
  }
  append_outcome append(std::vector<pending_entry> e, std::vector<stream_offset> offsets = {}) {
    append_batch b;
    b.entries = std::move(e);
    b.offsets = std::move(offsets);
    auto r = writer_->append(b);
    EXPECT_TRUE(r) << r.err().message;
    return r ? std::move(*r) : append_outcome{};
  }
  notification_batch read(std::vector<std::string> topics, stream_id after,
                          std::size_t limit = 100) {
    auto r = reader_->read_after(topics, after, limit);
    EXPECT_TRUE(r) << r.err().message;
    return r ? *r : notification_batch{};
  }
  temp_dir dir_;
  std::optional<writer> writer_;
  std::optional<reader> reader_;
};

TEST_F(StoreTest, AppendReturnsNewEntriesAndCommitsOffset) {
  auto out = append({entry(1, 0, "user:1", R"({"a":1})"), entry(2, 0, "user:2")},
                    {{"cutover:notifications", {2, 0}}});
  EXPECT_EQ(ids(out.added), (std::vector<std::string>{"1-0", "2-0"}));
  EXPECT_EQ(out.added[0]->data, R"({"a":1})");
  auto off = reader_->offset("cutover:notifications");
  ASSERT_TRUE(off && *off);
  EXPECT_EQ(**off, (stream_id{2, 0}));
}

TEST_F(StoreTest, DedupesByIdAndByKey) {
  append({entry(1, 0, "user:1", "1", "t", "k1")});
  auto out = append({entry(1, 0, "user:1", "1", "t", "k1"),  // same entry again
                     entry(2, 0, "user:1", "2", "t", "k1"),  // same key, new id
                     entry(3, 0, "user:1", "3", "t", "k2")});
  EXPECT_EQ(ids(out.added), (std::vector<std::string>{"3-0"}));
  EXPECT_EQ(out.duplicate_ids, 1u);
  EXPECT_EQ(out.duplicate_keys, 1u);
  EXPECT_EQ(out.dead_letters, 0u);
  EXPECT_EQ(ids(read({"user:1"}, {})), (std::vector<std::string>{"1-0", "3-0"}));
}

// DESIGN §3: a key is unique per topic. The same key on another topic is another entry;
// before migration 0003 it was silently dropped (not even a dead letter).
TEST_F(StoreTest, IdempotencyKeysAreScopedPerTopic) {
  append({entry(1, 0, "user:1", "1", "t", "order-7")});
  auto out = append({entry(2, 0, "user:2", "2", "t", "order-7"),    // other topic: stored
                     entry(3, 0, "all", "3", "t", "order-7"),       // and again
                     entry(4, 0, "user:2", "4", "t", "order-7")});  // repeat on user:2
  EXPECT_EQ(ids(out.added), (std::vector<std::string>{"2-0", "3-0"}));
  EXPECT_EQ(out.duplicate_keys, 1u);
  EXPECT_EQ(out.dead_letters, 0u);
  EXPECT_EQ(ids(read({"user:2"}, {})), (std::vector<std::string>{"2-0"}));
}

TEST_F(StoreTest, IdCollisionWithDifferentContentIsADeadLetter) {
  append({entry(1, 0, "user:1", "1")});
  auto out = append({entry(1, 0, "user:2", "2")});
  EXPECT_TRUE(out.added.empty());
  EXPECT_EQ(out.dead_letters, 1u);
  auto st = reader_->status();
  EXPECT_EQ(st->dead_letters, 1);
  EXPECT_EQ(st->notifications, 1);
}

TEST_F(StoreTest, DeadLettersStoredWithReason) {
  append_batch b;
  b.dead.push_back({"cutover:notifications", "5-0", R"({"data":"x"})", "missing field 'topic'"});
  b.offsets.push_back({"cutover:notifications", {5, 0}});
  auto r = writer_->append(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dead_letters, 1u);
  auto s = sql::statement::prepare(reader_->db(),
                                   "SELECT source, entry_id, raw, reason FROM dead_letters");
  ASSERT_EQ(s->step(), SQLITE_ROW);
  EXPECT_EQ(s->text(1), "5-0");
  EXPECT_EQ(s->text(3), "missing field 'topic'");
  EXPECT_EQ(**reader_->offset("cutover:notifications"), (stream_id{5, 0}));
}

TEST_F(StoreTest, MultiTopicReadMergesInIdOrder) {
  append({entry(1, 0, "user:1"), entry(1, 1, "all"), entry(2, 0, "user:2"), entry(3, 0, "all"),
          entry(3, 1, "user:1"), entry(4, 0, "user:1")});
  EXPECT_EQ(ids(read({"user:1", "all"}, {})),
            (std::vector<std::string>{"1-0", "1-1", "3-0", "3-1", "4-0"}));
  EXPECT_EQ(ids(read({"all", "user:1"}, {}, 3)), (std::vector<std::string>{"1-0", "1-1", "3-0"}));
}

TEST_F(StoreTest, RangeIsExclusiveOfSinceAndHonoursLimitAndUntil) {
  append({entry(1, 0, "t"), entry(1, 1, "t"), entry(1, 2, "t"), entry(2, 0, "t")});
  EXPECT_EQ(ids(read({"t"}, {1, 1})), (std::vector<std::string>{"1-2", "2-0"}));
  EXPECT_EQ(ids(read({"t"}, {1, 0}, 1)), (std::vector<std::string>{"1-1"}));
  EXPECT_TRUE(read({"t"}, {2, 0}).empty());
  EXPECT_TRUE(read({"t"}, {9, 0}).empty());  // ahead of head: nothing yet
  // The legacy tail position is after the whole millisecond.
  EXPECT_EQ(ids(read({"t"}, stream_id::from_legacy(1 * 1024 + 1023))),
            (std::vector<std::string>{"2-0"}));
  auto until = reader_->read_after(std::vector<std::string>{"t"}, {}, 100, stream_id{1, 1});
  EXPECT_EQ(ids(*until), (std::vector<std::string>{"1-0", "1-1"}));
}

TEST_F(StoreTest, HeadAndOldest) {
  EXPECT_FALSE(*reader_->head());
  append({entry(5, 0, "a"), entry(6, 0, "b"), entry(7, 3, "a")});
  EXPECT_EQ(**reader_->head(), (stream_id{7, 3}));
  EXPECT_EQ(**reader_->oldest("a"), (stream_id{5, 0}));
  EXPECT_EQ(**reader_->oldest("b"), (stream_id{6, 0}));
  EXPECT_FALSE(*reader_->oldest("c"));
}

TEST_F(StoreTest, RetentionByAgeInChunksRecordsMarks) {
  std::vector<pending_entry> e;
  for (std::uint64_t i = 0; i < 25; ++i) e.push_back(entry(1000 + i, 0, i % 2 ? "odd" : "even"));
  e.push_back(entry(5000, 0, "even"));
  append(e);
  prune_policy p;
  p.max_age = std::chrono::milliseconds(1000);
  p.chunk = 10;
  std::size_t removed = 0, chunks = 0;
  std::map<std::string, stream_id> marks;
  while (true) {
    auto r = writer_->prune_chunk(p, /*now_ms=*/2025);  // cutoff 1025: ids 1000..1024 go
    ASSERT_TRUE(r) << r.err().message;
    removed += r->removed;
    ++chunks;
    for (auto& [t, id] : r->marks) marks[t] = std::max(marks[t], id);
    EXPECT_LE(r->removed, 10u);
    if (!r->more) break;
  }
  EXPECT_EQ(removed, 25u);
  EXPECT_GE(chunks, 3u);
  EXPECT_EQ(marks["even"], (stream_id{1024, 0}));
  EXPECT_EQ(marks["odd"], (stream_id{1023, 0}));
  EXPECT_EQ(ids(read({"even", "odd"}, {})), (std::vector<std::string>{"5000-0"}));
  // Both marks are older than the oldest retained entry (5000-0): folded into the floor.
  auto stored = reader_->prune_marks();
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->empty());
  EXPECT_EQ(**reader_->prune_floor(), (stream_id{1024, 0}));
  EXPECT_EQ(reader_->status()->topics, 1);
}

std::int64_t topic_rows(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM topics", -1, &s, nullptr);
  std::int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return n;
}

TEST_F(StoreTest, PruneMarksOlderThanEveryRetainedEntryFoldIntoOneFloor) {
  // 5,000 users whose only notification ages out, and a shared topic that stays. Before,
  // each user kept a topic row with its mark for ever (issue 12: "prune marks grow
  // forever"), and every reset read all of them.
  constexpr std::uint64_t kUsers = 5000;
  std::vector<pending_entry> e;
  for (std::uint64_t i = 0; i < kUsers; ++i)
    e.push_back(entry(1000 + i, 0, "user:" + std::to_string(i)));
  for (std::uint64_t i = 0; i < 5; ++i) e.push_back(entry(100000 + i, 0, "all"));
  append(e);
  prune_policy p;
  p.max_age = std::chrono::milliseconds(1000);
  std::size_t folded = 0;
  std::optional<stream_id> floor;
  while (true) {
    auto r = writer_->prune_chunk(p, 50000);  // cutoff 49000: every user entry goes
    ASSERT_TRUE(r) << r.err().message;
    folded += r->folded;
    if (r->floor) floor = r->floor;
    if (!r->more) break;
  }
  EXPECT_GE(folded, kUsers);
  ASSERT_TRUE(floor);
  EXPECT_EQ(*floor, (stream_id{1000 + kUsers - 1, 0}));
  EXPECT_EQ(**reader_->prune_floor(), *floor);
  EXPECT_TRUE(reader_->prune_marks()->empty());
  EXPECT_EQ(topic_rows(writer_->db()), 1) << "only the topic with entries keeps a row";

  // A mark newer than the oldest retained entry still says something the floor cannot
  // (by count: "all" loses 3 of 5, while "old" keeps an entry from before): it stays.
  append({entry(40000, 0, "old")});
  prune_policy by_count;
  by_count.max_per_topic = 2;
  auto r = writer_->prune_chunk(by_count, 0);
  ASSERT_TRUE(r) << r.err().message;
  EXPECT_EQ(r->removed, 3u);
  EXPECT_FALSE(r->floor);
  auto marks = reader_->prune_marks();
  ASSERT_EQ(marks->size(), 1u);
  EXPECT_EQ(marks->at("all"), (stream_id{100002, 0}));
  EXPECT_EQ(**reader_->prune_floor(), *floor);
  // A new entry for a folded user starts a row again, counted from 1.
  append({entry(200000, 0, "user:7")});
  EXPECT_EQ(ids(read({"user:7"}, {})), (std::vector<std::string>{"200000-0"}));
  EXPECT_EQ(reader_->status()->topics, 3);
}

std::int64_t count_of(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
  std::int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return n;
}

// Marks that could outlive their topic's entries: a topic row with a mark whose topic has no
// retained entry. The bound below says there are none (imports aside, see DESIGN §11).
constexpr const char* kMarksWithoutEntries =
    "SELECT count(*) FROM topics t WHERE t.pruned_ms IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM notifications n WHERE n.topic = t.topic)";
constexpr const char* kTopicsWithEntries = "SELECT count(DISTINCT topic) FROM notifications";

TEST_F(StoreTest, PruneMarksNeverOutnumberTheTopicsThatStillHoldEntries) {
  // A quiet topic with one entry older than everything keeps every later mark above the
  // oldest retained entry, so nothing folds: the case where marks stay per topic.
  append({entry(1, 0, "quiet")});
  prune_policy by_count;
  by_count.max_per_topic = 2;
  auto prune_all = [&](const prune_policy& p, std::uint64_t now) {
    while (true) {
      auto r = writer_->prune_chunk(p, now);
      ASSERT_TRUE(r) << r.err().message;
      ASSERT_EQ(count_of(writer_->db(), kMarksWithoutEntries), 0);
      if (!r->more) break;
    }
  };
  // 500 prunes of one topic: one row, one mark (the newest), never one per prune.
  std::uint64_t ms = 10;
  for (int round = 0; round < 500; ++round) {
    append({entry(ms, 0, "busy"), entry(ms + 1, 0, "busy"), entry(ms + 2, 0, "busy")});
    ms += 3;
    prune_all(by_count, 0);
  }
  auto marks = reader_->prune_marks();
  ASSERT_TRUE(marks);
  ASSERT_EQ(marks->size(), 1u);
  EXPECT_EQ(marks->at("busy"), (stream_id{ms - 3, 0})) << "the newest entry pruned";
  EXPECT_EQ(topic_rows(writer_->db()), 2);

  // 3,000 topics, each pruned by count: one mark each, and each of those topics still holds
  // its newest two entries, so the marks are bounded by the topics holding entries (and so
  // by the entries retained), not by how often or how much was pruned.
  constexpr int kTopics = 3000;
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<pending_entry> e;
    for (int t = 0; t < kTopics; ++t)
      for (int i = 0; i < 3; ++i) e.push_back(entry(ms++, 0, "user:" + std::to_string(t)));
    append(e);
    prune_all(by_count, 0);
  }
  marks = reader_->prune_marks();
  EXPECT_EQ(marks->size(), static_cast<std::size_t>(kTopics) + 1);
  EXPECT_EQ(count_of(writer_->db(), kTopicsWithEntries), kTopics + 2);
  EXPECT_EQ(topic_rows(writer_->db()), kTopics + 2) << "no row beyond the topics with entries";

  // Once age retention takes a topic's last entries it takes everything older too (ids age in
  // order), so its mark is below the oldest retained entry and folds: only the topics still
  // holding entries keep marks.
  append({entry(ms + 100000, 0, "user:0")});
  prune_policy by_age;
  by_age.max_age = std::chrono::milliseconds(1000);
  prune_all(by_age, ms + 1000);  // cutoff ms: every entry before the last one goes
  EXPECT_TRUE(reader_->prune_marks()->empty());
  EXPECT_EQ(topic_rows(writer_->db()), 1);
  EXPECT_EQ(**reader_->prune_floor(), (stream_id{ms - 1, 0}));
}

TEST_F(StoreTest, NoPruneMarkOutlivesItsTopicsEntriesUnderMixedRetention) {
  // Random appends over 400 topics, pruned by count and by age in turns: after every chunk
  // no topic keeps a mark without a retained entry, so the marks stay at most the topics
  // holding entries whatever the history.
  std::mt19937 rng(12);
  std::uint64_t ms = 1;
  for (int round = 0; round < 60; ++round) {
    std::vector<pending_entry> e;
    for (int i = 0; i < 200; ++i) {
      const bool hot = rng() % 2;  // half the entries go to 20 busy users
      e.push_back(entry(ms++, 0, "user:" + std::to_string(rng() % (hot ? 20 : 400))));
    }
    append(e);
    prune_policy p;
    p.chunk = 37;
    if (round % 2)
      p.max_per_topic = 1 + static_cast<std::int64_t>(rng() % 4);
    else
      p.max_age = std::chrono::milliseconds(1 + rng() % 600);
    while (true) {
      auto r = writer_->prune_chunk(p, ms);
      ASSERT_TRUE(r) << r.err().message;
      ASSERT_EQ(count_of(writer_->db(), kMarksWithoutEntries), 0) << "round " << round;
      if (!r->more) break;
    }
    auto marks = reader_->prune_marks();
    ASSERT_TRUE(marks);
    EXPECT_LE(static_cast<std::int64_t>(marks->size()),
              count_of(writer_->db(), kTopicsWithEntries));
    EXPECT_EQ(topic_rows(writer_->db()), count_of(writer_->db(), kTopicsWithEntries));
  }
}

TEST_F(StoreTest, ImportedEntriesKeepTheirTimeAndAgeByIt) {
  // Old ids 1..6 of the old app (stored at 0-1..0-6), exported with their own times;
  // then an entry from Redis.
  {
    auto im = importer::open(dir_.file("s.db"));
    ASSERT_TRUE(im) << im.err().message;
    std::vector<import_row> rows;
    for (std::uint64_t i = 1; i <= 6; ++i)
      rows.push_back(
          {stream_id{0, i}, "user:1", "t", std::to_string(i), i <= 3 ? 1000u : 9000u, i});
    auto r = im->store(rows, 0);
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->stored, 6u);
    auto again = im->store(rows, 0);
    EXPECT_EQ(again->stored, 0u);
    EXPECT_EQ(again->already, 6u);
    rows[0].data = "changed";
    EXPECT_EQ(im->store({rows.data(), 1}, 0)->conflicts.size(), 1u);
    EXPECT_EQ(*im->recorded_offset(), 0u);
    EXPECT_FALSE(*im->oldest_ingested());
  }
  append({entry(5000, 0, "user:1"), entry(20000, 0, "user:1")});
  auto all = read({"user:1"}, {});
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(all[0]->created_ms(), 1000u) << "the kept time, not the id's";
  EXPECT_EQ(all[6]->created_ms(), 5000u) << "from Redis: the id's time";
  EXPECT_FALSE(all[6]->kept_time_ms);
  // Cutoff 9500: imported rows by their kept time (1000 and 9000 go), the Redis entry at
  // 5000 by its id; the one at 20000 and nothing else stays. Without kept times every
  // import would have gone as 1970.
  prune_policy p;
  p.max_age = std::chrono::milliseconds(500);
  auto r = writer_->prune_chunk(p, 10000);
  ASSERT_TRUE(r) << r.err().message;
  EXPECT_EQ(r->removed, 7u);
  EXPECT_EQ(ids(read({"user:1"}, {})), (std::vector<std::string>{"20000-0"}));
}

TEST_F(StoreTest, AgeRetentionSparesImportsStillYoung) {
  auto im = importer::open(dir_.file("s.db"));
  ASSERT_TRUE(im);
  std::vector<import_row> rows;
  for (std::uint64_t i = 1; i <= 4; ++i)
    rows.push_back({stream_id{0, i}, "user:1", "t", "1", i <= 2 ? 1000u : 100000u, i});
  ASSERT_TRUE(im->store(rows, 0));
  append({entry(2000, 0, "user:1")});
  EXPECT_EQ(*im->oldest_ingested(), (stream_id{2000, 0}));
  prune_policy p;
  p.max_age = std::chrono::milliseconds(1000);
  auto r = writer_->prune_chunk(p, 50000);  // cutoff 49000
  ASSERT_TRUE(r);
  EXPECT_EQ(r->removed, 3u);
  EXPECT_EQ(ids(read({"user:1"}, {})), (std::vector<std::string>{"0-3", "0-4"}));
}

TEST_F(StoreTest, RetentionByCountPerTopic) {
  std::vector<pending_entry> e;
  for (std::uint64_t i = 1; i <= 30; ++i) e.push_back(entry(i, 0, "busy"));
  e.push_back(entry(31, 0, "quiet"));
  append(e);
  prune_policy p;
  p.max_per_topic = 5;
  p.chunk = 10;
  while (true) {
    auto r = writer_->prune_chunk(p, 0);
    ASSERT_TRUE(r) << r.err().message;
    if (!r->more) break;
  }
  EXPECT_EQ(ids(read({"busy"}, {})),
            (std::vector<std::string>{"26-0", "27-0", "28-0", "29-0", "30-0"}));
  EXPECT_EQ(ids(read({"quiet"}, {})), (std::vector<std::string>{"31-0"}));
  // busy's mark (25-0) is older than every retained entry (26-0 on): it is the floor now.
  EXPECT_TRUE(reader_->prune_marks()->empty());
  EXPECT_EQ(**reader_->prune_floor(), (stream_id{25, 0}));
  // Counts stay right as new rows arrive after pruning.
  append({entry(40, 0, "busy")});
  auto r = writer_->prune_chunk(p, 0);
  EXPECT_EQ(r->removed, 1u);
  EXPECT_EQ(ids(read({"busy"}, {})),
            (std::vector<std::string>{"27-0", "28-0", "29-0", "30-0", "40-0"}));
}

TEST_F(StoreTest, ConcurrentReaderSeesConsistentPrefixes) {
  constexpr std::uint64_t kBatches = 200, kPerBatch = 50;
  std::atomic<bool> done{false};
  std::thread w([&] {
    for (std::uint64_t b = 0; b < kBatches; ++b) {
      std::vector<pending_entry> e;
      for (std::uint64_t i = 0; i < kPerBatch; ++i) e.push_back(entry(b + 1, i, i % 3 ? "a" : "b"));
      append(e);
    }
    done = true;
  });
  std::size_t reads = 0, max_seen = 0;
  while (!done || reads == 0) {
    auto r = reader_->read_after(std::vector<std::string>{"a", "b"}, {}, 1'000'000);
    ASSERT_TRUE(r) << r.err().message;
    // A snapshot holds whole batches, in strictly increasing id order.
    ASSERT_EQ(r->size() % kPerBatch, 0u);
    for (std::size_t i = 1; i < r->size(); ++i) ASSERT_LT((*r)[i - 1]->id, (*r)[i]->id);
    ASSERT_GE(r->size(), max_seen);
    max_seen = r->size();
    ++reads;
  }
  w.join();
  EXPECT_EQ(read({"a", "b"}, {}, 1'000'000).size(), kBatches * kPerBatch);
  EXPECT_GT(reads, 1u);
}

TEST_F(StoreTest, FailedBatchCommitsNothing) {
  // A NOT NULL violation mid-batch (forced through a raw statement) must roll back all of it.
  append({entry(1, 0, "t")});
  ASSERT_TRUE(sql::exec(writer_->db(),
                        "CREATE TRIGGER boom BEFORE INSERT ON notifications WHEN NEW.ms = 3 "
                        "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END;",
                        "trigger"));
  append_batch b;
  b.entries = {entry(2, 0, "t"), entry(3, 0, "t")};
  b.offsets = {{"s", {3, 0}}};
  auto r = writer_->append(b);
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message.find("disk full (simulated)"), std::string::npos);
  EXPECT_EQ(ids(read({"t"}, {})), (std::vector<std::string>{"1-0"}));
  EXPECT_FALSE(*reader_->offset("s"));
}

}  // namespace
}  // namespace cutover::store
