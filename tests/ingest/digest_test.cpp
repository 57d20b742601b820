// The rolling ingest digest (DESIGN §3 "Each instance also exports a rolling digest", §11):
// two instances that stored the same entries from a stream report the same digest at the
// same offset, however their reads were batched and across a restart; other content gives
// another digest; a rewind takes the orphaned entries back out of it.

#include <gtest/gtest.h>

#include "ingest_fixtures.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace cutover::ingest::test {
namespace {

using testing::redis_client;
using testing::redis_server;
using testing::temp_dir;

const std::string kS = kDefaultStream;

void xadd(redis_client& c, const std::string& id, const std::string& data,
          const std::string& topic = "all") {
  auto r = c.command({"XADD", kS, id, "topic", topic, "data", data});
  ASSERT_EQ(r->type, REDIS_REPLY_STRING) << (r->str ? r->str : "");
}

stream_stats stream_of(const ingest& ing) {
  auto s = ing.snapshot();
  EXPECT_EQ(s.streams.size(), 1u);
  return s.streams.empty() ? stream_stats{} : s.streams[0];
}

// Ingests what `url` holds into `db` (until `n` entries arrived) and returns the stream's
// offset and digest as the running instance reports them.
stream_stats ingest_all(const std::string& db, const std::string& url, std::size_t n,
                        std::size_t batch = 1000) {
  recording_listener l;
  auto o = test_options(db, url);
  o.batch = batch;
  ingest ing(o, l);
  EXPECT_TRUE(ing.start().ok());
  EXPECT_TRUE(l.wait_for_count(n));
  // The offset is committed with the last entry; the listener hears of it after the commit.
  return stream_of(ing);
}

TEST(IngestDigest, TwoInstancesAtOneOffsetAgreeAndOtherContentDiffers) {
  redis_server redis, other;
  redis_client c(redis.port()), d(other.port());
  for (int k = 1; k <= 50; ++k) {
    std::string id = std::to_string(k) + "-0", data = "{\"n\":" + std::to_string(k) + "}";
    xadd(c, id, data);
    // The same ids in another Redis; entry 37 holds other data.
    xadd(d, id, k == 37 ? std::string("{\"n\":-37}") : data);
  }
  temp_dir dir;
  auto a = ingest_all(dir.file("a.db"), redis.url(), 50);
  auto b = ingest_all(dir.file("b.db"), redis.url(), 50, 7);  // other batches, same entries
  auto x = ingest_all(dir.file("x.db"), other.url(), 50);
  ASSERT_TRUE(a.committed && b.committed && x.committed);
  EXPECT_EQ(a.committed->str(), "50-0");
  EXPECT_EQ(*a.committed, *b.committed);
  EXPECT_EQ(*a.committed, *x.committed);
  EXPECT_EQ(a.digest.entries, 50);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_NE(a.digest.value, x.digest.value) << "one entry's data differs";
  EXPECT_EQ(x.digest.entries, 50);
  EXPECT_NE(a.digest.value, 0u);

  // The digest is the sum of the entries' hashes (so it does not depend on batching).
  std::uint64_t sum = 0;
  for (const auto& r : stored_rows(dir.file("a.db"))) {
    auto id = parse_stream_id(r.id);
    ASSERT_TRUE(id);
    sum += store::entry_digest(*id, r.topic, r.type, r.data);
  }
  EXPECT_EQ(sum, a.digest.value);

  // Persisted with the offset: the store says the same, and a restart goes on from it.
  auto rd = store::reader::open(dir.file("a.db"));
  ASSERT_TRUE(rd);
  auto stored = rd->digests();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->at(kS), a.digest);
  xadd(c, "51-0", "{\"n\":51}");
  auto a2 = ingest_all(dir.file("a.db"), redis.url(), 1);
  auto b2 = ingest_all(dir.file("b.db"), redis.url(), 1);
  EXPECT_EQ(a2.committed->str(), "51-0");
  EXPECT_EQ(a2.digest.entries, 51);
  EXPECT_EQ(a2.digest, b2.digest);
  EXPECT_NE(a2.digest, a.digest);
}

TEST(IngestDigest, ARewindTakesTheOrphanedEntriesBackOut) {
  redis_server redis;
  redis_client c(redis.port());
  for (int k = 1; k <= 10; ++k) xadd(c, std::to_string(k) + "-0", std::to_string(k));
  temp_dir dir;
  ingest_all(dir.file("a.db"), redis.url(), 10);
  // The stream replaced below the offset: 6-0.. are lost, 6-0 is reused.
  c.command({"DEL", kS});
  for (int k = 1; k <= 5; ++k) xadd(c, std::to_string(k) + "-0", std::to_string(k));
  xadd(c, "6-0", "\"x6\"");
  xadd(c, "12-0", "\"x12\"");
  log_capture log;
  recording_listener l;
  ingest a(test_options(dir.file("a.db"), redis.url(), &log), l);
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(log.wait_for("moved to orphans")) << log.text();
  ASSERT_TRUE(l.wait_for_count(2)) << log.text();
  auto after = stream_of(a);
  // A new instance that never saw the lost entries stores exactly what Redis holds now.
  auto fresh = ingest_all(dir.file("fresh.db"), redis.url(), 7);
  ASSERT_TRUE(after.committed && fresh.committed);
  EXPECT_EQ(after.committed->str(), "12-0");
  EXPECT_EQ(*after.committed, *fresh.committed);
  EXPECT_EQ(after.digest.entries, 7);
  EXPECT_EQ(after.digest, fresh.digest);
}

// What migration 0005 leaves in a store that had ingested under schema 4: the offset as it was,
// the digest and its count 0 (the columns' default). Made from a copy of a store that has the
// same entries with a complete digest.
void as_if_migrated_from_v4(const std::string& from, const std::string& to,
                            const std::string& also_sql = "") {
  ASSERT_TRUE(store::snapshot(from, to).ok());
  auto h = store::sql::open(to, store::sql::open_mode::existing);
  ASSERT_TRUE(h);
  ASSERT_TRUE(store::sql::exec(
                  h->get(), "UPDATE ingest_offsets SET digest = 0, digest_entries = 0; " + also_sql,
                  "make a schema 4 store")
                  .ok());
}

std::optional<std::string> meta_value(const std::string& db, const std::string& key) {
  auto r = store::reader::open(db);
  if (!r) return std::nullopt;
  auto v = r->meta(key);
  return v ? *v : std::nullopt;
}

TEST(IngestDigest, AStoreMigratedFromSchema4GetsTheDigestOfEveryEntryItHolds) {
  redis_server redis;
  redis_client c(redis.port());
  for (int k = 1; k <= 30; ++k) xadd(c, std::to_string(k) + "-0", std::to_string(k));
  temp_dir dir;
  auto native = ingest_all(dir.file("a.db"), redis.url(), 30);
  ASSERT_EQ(native.digest.entries, 30);
  as_if_migrated_from_v4(dir.file("a.db"), dir.file("m.db"));
  log_capture log;
  recording_listener l;
  ingest m(test_options(dir.file("m.db"), redis.url(), &log), l);
  ASSERT_TRUE(m.start().ok());
  // Rebuilt once at start from the 30 stored entries: equal to the instance that had a digest
  // all along, so the two can be compared.
  auto got = stream_of(m);
  EXPECT_EQ(got.digest, native.digest);
  EXPECT_TRUE(got.digest_comparable);
  EXPECT_TRUE(log.wait_for("ingest digest comparable: rebuilt")) << log.text();
  auto note = meta_value(dir.file("m.db"), "digest_basis:" + kS);
  ASSERT_TRUE(note);
  EXPECT_TRUE(note->starts_with("comparable: rebuilt")) << *note;
  // It goes on from there like any digest.
  xadd(c, "31-0", "31");
  auto more = ingest_all(dir.file("a.db"), redis.url(), 1);
  ASSERT_TRUE(l.wait_for_count(1));
  EXPECT_TRUE(l.wait_for_count(1));
  EXPECT_EQ(stream_of(m).digest.entries, 31);
  EXPECT_EQ(stream_of(m).digest, more.digest);
}

TEST(IngestDigest, AStoreFromSchema4WhoseRetentionRemovedEntriesSaysItIsNotComparable) {
  redis_server redis;
  redis_client c(redis.port());
  for (int k = 1; k <= 30; ++k) xadd(c, std::to_string(k) + "-0", std::to_string(k));
  temp_dir dir;
  auto native = ingest_all(dir.file("a.db"), redis.url(), 30);
  // Retention removed 1-0 before the upgrade: it can no longer be added to the sum.
  as_if_migrated_from_v4(dir.file("a.db"), dir.file("p.db"),
                         "DELETE FROM notifications WHERE ms = 1; UPDATE topics SET count = "
                         "count - 1, pruned_ms = 1, pruned_seq = 0 WHERE topic = 'all';");
  // Before any serve settled it, `db status`'s reader already says so.
  {
    auto r = store::reader::open(dir.file("p.db"));
    ASSERT_TRUE(r);
    auto b = r->digest_basis_of(kS, 1, 0);
    ASSERT_TRUE(b && *b);
    EXPECT_FALSE((*b)->comparable) << (*b)->note;
  }
  log_capture log;
  recording_listener l;
  ingest p(test_options(dir.file("p.db"), redis.url(), &log), l);
  ASSERT_TRUE(p.start().ok());
  auto got = stream_of(p);
  EXPECT_FALSE(got.digest_comparable);
  EXPECT_NE(got.digest, native.digest);
  EXPECT_TRUE(got.digest_note.starts_with("not comparable")) << got.digest_note;
  EXPECT_TRUE(log.wait_for("warning: " + kS + ": ingest digest not comparable")) << log.text();
  // Recorded: it stays so after retention removes more (held below covered no longer tells).
  auto note = meta_value(dir.file("p.db"), "digest_basis:" + kS);
  ASSERT_TRUE(note);
  EXPECT_TRUE(note->starts_with("not comparable")) << *note;
  // And `db status` reads that record (not its own "yet" guess).
  auto r = store::reader::open(dir.file("p.db"));
  ASSERT_TRUE(r);
  auto b = r->digest_basis_of(kS, 1, 0);
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->note, *note);
}

TEST(IngestDigest, ANativeStoreThatRetentionPrunedStaysComparable) {
  redis_server redis;
  redis_client c(redis.port());
  for (int k = 1; k <= 10; ++k) xadd(c, std::to_string(k) + "-0", std::to_string(k));
  temp_dir dir;
  auto native = ingest_all(dir.file("a.db"), redis.url(), 10);
  {
    auto h = store::sql::open(dir.file("a.db"), store::sql::open_mode::existing);
    ASSERT_TRUE(h);
    ASSERT_TRUE(
        store::sql::exec(h->get(),
                         "DELETE FROM notifications WHERE ms <= 3; UPDATE topics SET count = "
                         "count - 3, pruned_ms = 3, pruned_seq = 0 WHERE topic = 'all';",
                         "prune")
            .ok());
  }
  recording_listener l;
  ingest a(test_options(dir.file("a.db"), redis.url()), l);
  ASSERT_TRUE(a.start().ok());
  auto got = stream_of(a);
  EXPECT_TRUE(got.digest_comparable);
  EXPECT_EQ(got.digest, native.digest);
  EXPECT_FALSE(meta_value(dir.file("a.db"), "digest_basis:" + kS));
}

}  // namespace
}  // namespace cutover::ingest::test
