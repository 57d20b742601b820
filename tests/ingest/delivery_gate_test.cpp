// The delivery gate (ingest/delivery_gate.hpp) against real stores: it must decide every entry
// exactly as store::writer::append does, so what it delivers is what the store keeps.

#include "ingest/delivery_gate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "store_fixtures.hpp"

namespace cutover::ingest::test {
namespace {

using unit::entry;
using unit::temp_dir;
using verdict = delivery_gate::verdict;

store::writer open_writer(const std::string& path) {
  auto w = store::writer::open(path);
  EXPECT_TRUE(w) << w.err().message;
  return std::move(*w);
}

delivery_gate open_gate(const std::string& path) {
  auto r = store::reader::open(path);
  EXPECT_TRUE(r) << r.err().message;
  auto head = r->head();
  return delivery_gate(std::move(*r), *head);
}

// What the stream reader does with the gate's decisions (stream_reader::pass_gate).
store::append_batch gated(delivery_gate& g, const std::vector<store::pending_entry>& in,
                          std::vector<std::string>& delivered) {
  store::append_batch b;
  for (const auto& p : in) {
    auto d = g.admit(p);
    switch (d.what) {
      case verdict::deliver:
        delivered.push_back(p.id.str());
        b.entries.push_back(p);
        break;
      case verdict::recommit:
      case verdict::undecided:
      case verdict::changed:
        b.entries.push_back(p);
        break;
      case verdict::duplicate_id:
        ++b.skipped_duplicate_ids;
        break;
      case verdict::duplicate_key:
        ++b.skipped_duplicate_keys;
        break;
      case verdict::collision:
        b.dead.push_back(store::collision_dead_letter(p));
        break;
    }
  }
  return b;
}

std::vector<std::string> ids(const notification_batch& b) {
  std::vector<std::string> out;
  for (const auto& n : b) out.push_back(n->id.str());
  return out;
}

TEST(DeliveryGate, DecidesIdsKeysAndCollisionsAsTheStore) {
  temp_dir dir;
  auto path = dir.file("s.db");
  auto w = open_writer(path);
  store::append_batch seed;
  seed.entries = {entry(5, 0, "a", "1", "t", "k1")};
  ASSERT_TRUE(w.append(seed));
  auto g = open_gate(path);
  EXPECT_EQ(g.admit(entry(5, 0, "a", "1", "t", "k1")).what, verdict::duplicate_id);
  EXPECT_EQ(g.admit(entry(5, 0, "a", "2")).what, verdict::collision);
  EXPECT_EQ(g.admit(entry(6, 0, "a", "3", "t", "k1")).what, verdict::duplicate_key);
  auto b6 = g.admit(entry(6, 0, "b", "3", "t", "k1"));  // keys are per topic
  ASSERT_EQ(b6.what, verdict::deliver);
  EXPECT_EQ(b6.entry->id, (stream_id{6, 0}));
  EXPECT_EQ(g.admit(entry(7, 0, "b", "4", "t", "k1")).what, verdict::duplicate_key);  // pending
  // A re-read of a pending entry (after a failed commit): to the writer again, not delivered.
  EXPECT_EQ(g.admit(entry(6, 0, "b", "3", "t", "k1")).what, verdict::recommit);
  EXPECT_EQ(g.admit(entry(6, 0, "b", "other", "t", "k1")).what, verdict::changed);
  EXPECT_EQ(g.pending(), 1u);
  // Committed: the store is the authority from now on.
  store::append_batch b;
  b.entries = {entry(6, 0, "b", "3", "t", "k1")};
  auto out = w.append(b);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->added.size(), 1u);
  g.settle(b.entries);
  EXPECT_EQ(g.pending(), 0u);
  EXPECT_EQ(g.admit(entry(8, 0, "b", "5", "t", "k1")).what, verdict::duplicate_key);
  EXPECT_EQ(g.admit(entry(8, 0, "b", "5", "t", "k2")).what, verdict::deliver);
}

// A key freed by retention between the gate's decision and the commit: the entry the gate
// called a duplicate (and did not deliver) must not be stored either.
TEST(DeliveryGate, ItsDuplicateStaysOneWhenRetentionFreesTheKeyBeforeTheCommit) {
  temp_dir dir;
  auto path = dir.file("s.db");
  auto w = open_writer(path);
  store::append_batch seed;
  seed.entries = {entry(1, 0, "a", "1", "t", "k"), entry(2, 0, "a", "2")};
  ASSERT_TRUE(w.append(seed));
  auto g = open_gate(path);
  std::vector<std::string> delivered;
  auto b = gated(g, {entry(3, 0, "a", "3", "t", "k")}, delivered);
  EXPECT_TRUE(delivered.empty());
  store::prune_policy keep_one;
  keep_one.max_per_topic = 1;
  auto pr = w.prune_chunk(keep_one, 0);
  ASSERT_TRUE(pr);
  ASSERT_EQ(pr->removed, 1u);  // 1-0 and its key are gone
  auto out = w.append(b);
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->added.empty());
  EXPECT_EQ(out->duplicate_keys, 1u);  // counted as the store's own
}

TEST(DeliveryGate, ForgetAfterTakesOnlyItsStreamAndFreesKeys) {
  temp_dir dir;
  auto path = dir.file("s.db");
  auto w = open_writer(path);
  auto g = open_gate(path);
  // Two streams: stored seq % 2 is the stream.
  for (std::uint64_t ms = 1; ms <= 4; ++ms) {
    ASSERT_EQ(g.admit(entry(ms, 0, "a", "1", "t", "k" + std::to_string(ms))).what,
              verdict::deliver);
    ASSERT_EQ(g.admit(entry(ms, 1, "a", "1")).what, verdict::deliver);
  }
  EXPECT_EQ(ids(g.pending_back(2, 0, std::nullopt, 10)),
            (std::vector<std::string>{"4-0", "3-0", "2-0", "1-0"}));
  EXPECT_EQ(ids(g.pending_back(2, 1, stream_id{2, 1}, 10)),
            (std::vector<std::string>{"2-1", "1-1"}));
  EXPECT_EQ(g.forget_after(stream_id{2, 0}, 2, 0), (stream_id{4, 0}));
  EXPECT_EQ(g.pending(), 6u);
  EXPECT_FALSE(g.is_pending(stream_id{3, 0}));
  EXPECT_TRUE(g.is_pending(stream_id{3, 1}));
  // The forgotten entry's key is free again; the kept one's is not.
  EXPECT_EQ(g.admit(entry(5, 0, "a", "x", "t", "k3")).what, verdict::deliver);
  EXPECT_EQ(g.admit(entry(5, 2, "a", "x", "t", "k2")).what, verdict::duplicate_key);
  EXPECT_EQ(g.forget_after(stream_id{9, 0}, 2, 0), std::nullopt);
}

// Many random batches, with ids the store already has (same and other content, or pruned),
// keys shared across topics, retention between batches and failed commits re-read: what the
// gate delivers is, batch by batch, exactly what a store given every entry keeps. (Above the
// store's head at start, Redis never hands the reader an id twice except as a re-read.)
TEST(DeliveryGate, DeliversExactlyWhatTheStoreKeepsOverRandomBatches) {
  temp_dir dir;
  auto gated_path = dir.file("gated.db"), ref_path = dir.file("ref.db");
  auto wg = open_writer(gated_path), wr = open_writer(ref_path);
  std::mt19937 rng(18);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto make = [&](std::uint64_t ms) {
    std::optional<std::string> key;
    if (pick(2)) key = "k" + std::to_string(pick(30));
    return entry(ms, 0, "t" + std::to_string(pick(3)), std::to_string(pick(3)), "t", key);
  };
  store::append_batch seed;
  for (std::uint64_t ms = 1; ms <= 40; ++ms) seed.entries.push_back(make(ms));
  ASSERT_TRUE(wg.append(seed));
  ASSERT_TRUE(wr.append(seed));
  auto g = open_gate(gated_path);
  store::prune_policy prune;
  prune.max_per_topic = 15;
  std::vector<std::uint64_t> again;  // stored ids, each read once more at a random moment
  for (std::uint64_t ms = 1; ms <= 40; ++ms) again.push_back(ms);
  std::shuffle(again.begin(), again.end(), rng);
  std::uint64_t next = 40;
  std::size_t delivered_total = 0, kept_total = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<store::pending_entry> in;
    int n = 1 + pick(12);
    for (int k = 0; k < n; ++k) {
      bool repeat = !again.empty() && pick(6) == 0;
      in.push_back(make(repeat ? again.back() : ++next));
      if (repeat) again.pop_back();
    }
    std::vector<std::string> delivered;
    auto b = gated(g, in, delivered);
    if (pick(8) == 0) {
      // The commit failed: nothing of it is stored; the reader reads the same again.
      std::vector<std::string> reread;
      b = gated(g, in, reread);
      EXPECT_TRUE(reread.empty()) << "a re-read delivered twice";
    }
    auto og = wg.append(b);
    ASSERT_TRUE(og) << og.err().message;
    g.settle(b.entries);
    store::append_batch full;
    full.entries = in;
    auto orf = wr.append(full);
    ASSERT_TRUE(orf);
    EXPECT_EQ(delivered, ids(orf->added)) << "round " << round;
    EXPECT_EQ(ids(og->added), ids(orf->added)) << "round " << round;
    EXPECT_EQ(og->duplicate_ids, orf->duplicate_ids);
    EXPECT_EQ(og->duplicate_keys, orf->duplicate_keys);
    EXPECT_EQ(og->dead_letters, orf->dead_letters);
    delivered_total += delivered.size();
    kept_total += orf->added.size();
    if (pick(4) == 0) {
      ASSERT_TRUE(wg.prune_chunk(prune, 0));
      ASSERT_TRUE(wr.prune_chunk(prune, 0));
    }
  }
  EXPECT_EQ(g.pending(), 0u);
  EXPECT_GT(delivered_total, 100u);
  EXPECT_LT(kept_total, 300u * 6);  // duplicates happened
}

}  // namespace
}  // namespace cutover::ingest::test
